"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build/html``."""

import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import toylab  # noqa: E402

project = "toylab"
author = "The toylab developers"
copyright = "2026, The toylab developers"
release = version = toylab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.md5"]
autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
# docstrings write formulas in plain text: no cross-references guessed from them
numpydoc_xref_param_type = False
myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path = []
suppress_warnings = ["myst.header", "autosummary.import_cycle", "config.cache"]

_INLINE_LITERAL = re.compile(r"(``.*?``)")


def _escape_bars(app, what, name, obj, options, lines):
    """Docstrings write norms as |x|, which reStructuredText reads as substitutions: escape the bars
    outside inline literals and literal blocks."""
    literal_indent = None
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if not line.strip() or indent > literal_indent:
                continue
            literal_indent = None
        if line.rstrip().endswith("::"):
            literal_indent = indent
        parts = _INLINE_LITERAL.split(line)
        lines[i] = "".join(p if p.startswith("``") else p.replace("|", "\\|") for p in parts)


def _write_cli_help(app):
    """docs/cli_commands.inc: every command's ``--help``, generated from the parser itself."""
    os.environ["COLUMNS"] = "100"
    from toylab.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    parts = []
    for name, sub in commands.items():
        text = sub.format_help()
        parts.append(f"``toylab {name}``\n" + "-" * (len(name) + 11) + "\n\n.. code-block:: text\n\n"
                     + "\n".join("   " + line for line in text.splitlines()) + "\n")
    (Path(app.srcdir) / "cli_commands.inc").write_text("\n".join(parts))


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("builder-inited", _write_cli_help)

_GALLERY_OUT = Path(tempfile.mkdtemp(prefix="toylab-gallery-"))
_GALLERY_SIZES = {
    "sgd_vs_sde_2d.py": ["--paths", "1000"],
    "svag_convergence.py": ["--levels", "6"],
    "weight_decay_equilibrium.py": ["--paths", "500"],
}


def _gallery_argv(gallery_conf, script_vars):
    """Each example at a small size, its own figure file out of the way (the gallery scrapes the figure)."""
    name = Path(script_vars["src_file"]).name
    return _GALLERY_SIZES.get(name, []) + ["--out", str(_GALLERY_OUT / name.replace(".py", ".png"))]


sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",
    # the examples take their sizes on the command line: the gallery runs them small
    "reset_argv": _gallery_argv,
    "download_all_examples": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
}
