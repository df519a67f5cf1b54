"""The documentation site builds offline with warnings as errors, gallery included."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sphinx_site_builds_with_warnings_as_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(ROOT / "docs"),
                          str(tmp_path / "html")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    html = tmp_path / "html"
    for page in ("index.html", "api.html", "mathematics.html", "property_testing.html",
                 "generated/toylab.simulate.html", "generated/toylab.models.FiniteSum.html",
                 "generated/toylab.exact.critical_lr.html", "auto_examples/index.html", "cli.html"):
        assert (html / page).is_file(), page
    # every example renders its figure in the gallery
    images = sorted(p.name for p in (html / "_images").glob("sphx_glr_*_001.png"))
    assert images == ["sphx_glr_sgd_vs_sde_2d_001.png", "sphx_glr_svag_convergence_001.png",
                      "sphx_glr_weight_decay_equilibrium_001.png"]
    # the command line page lists every command's options, generated from the parser
    cli = (html / "cli.html").read_text()
    for command in ("reproduce", "simulate", "noise", "momentum", "weak-error"):
        assert f"usage: toylab {command}" in cli
    assert "--curve-batch-sizes" in cli


def test_the_api_reference_lists_every_public_name():
    import toylab
    import toylab.experiments
    import toylab.models
    import toylab.testing

    text = (ROOT / "docs" / "api.rst").read_text()
    for module in (toylab.models, toylab.experiments, toylab.exact, toylab.theory, toylab.testing):
        for name in module.__all__:
            assert f"   {module.__name__}.{name}\n" in text, f"{module.__name__}.{name}"
    for name in toylab.__all__:
        assert f".{name}\n" in text or name in ("exact", "theory"), name
