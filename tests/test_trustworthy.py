"""Trustworthy output: nothing lost, nothing silently changed, every claim worded as measured.

Each test fails without the fix it stands for (the point of the issue in brackets).
"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import toylab
from toylab import SGD, SVAG, Ensemble, NoisyQuadratic, exact, simulate
from toylab.cli import main
from toylab.experiments import ExactWeakError, MomentumResult, NoiseResult, StationaryResult, stationary

from .conftest import tiny_regression

ROOT = Path(__file__).resolve().parent.parent


def small_result():
    return ExactWeakError(ls=np.array([1.0, 2.0]), times=np.array([0.1]), error=np.array([0.2, 0.1]),
                          max_error=np.array([0.3, 0.15]), observable="loss", config={}, versions={})


def small_ensemble():
    model = tiny_regression(n=6, d=2, seed=0)
    return simulate(model, SGD(0.1, 2), np.zeros(2), [0.1, 0.2], paths=64, seed=0, backend="numpy", progress=False)


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    return exc.value.code, err


# ---------------------------------------------------------------------------
# 1. atomic saves; reproduce stages, then moves, and writes a manifest


@pytest.mark.parametrize("make", [small_result, small_ensemble], ids=["Result", "Ensemble"])
def test_an_interrupted_save_keeps_the_previous_file(make, tmp_path, monkeypatch):
    obj = make()
    path = tmp_path / "r.npz"
    obj.save(path)
    good = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        obj.save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]  # no temporary file left behind
    monkeypatch.undo()
    type(obj).load(path)


def test_an_interrupted_reproduce_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "weak_error_exact.png").write_bytes(b"an old figure")
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import toylab.experiments as ex

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # the first figures are made, then the run is interrupted
    monkeypatch.setattr(ex, "weak_error", interrupted)
    from toylab.reproduce import reproduce

    with pytest.raises(KeyboardInterrupt):
        reproduce(out, quick=True, backend="cpu")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_reproduce_writes_a_manifest_of_what_it_produced(tmp_path, monkeypatch):
    import toylab.reproduce as rep

    def two_files(out_dir, quick, backend, executor):
        (out_dir / "a.npz").write_bytes(b"1")
        (out_dir / "b.png").write_bytes(b"2")
        return [out_dir / "a.npz", out_dir / "b.png"]

    monkeypatch.setattr(rep, "_make_all", two_files)
    written = rep.reproduce(tmp_path / "new", quick=True, backend="cpu")
    assert [p.name for p in written] == ["a.npz", "b.png", "manifest.json"]
    manifest = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"a.npz", "b.png"} and manifest["quick"] is True
    assert "provenance" in manifest["versions"]
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["a.npz", "b.png", "manifest.json"]


# ---------------------------------------------------------------------------
# 2. --out checked before the work


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["simulate", "--out", "/nonexistent-folder/r.npz"], "does not exist"),
        (["stationary", "--out", "/nonexistent-folder/r.npz"], "does not exist"),
        (["reproduce", "--out", "/nonexistent-folder/figs"], "does not exist"),
    ],
)
def test_a_missing_output_folder_is_refused_before_the_run(argv, needle, capsys, monkeypatch):
    import toylab.experiments as ex
    import toylab.reproduce as rep

    sim = sys.modules["toylab.simulate"]  # the module, which the function of that name shadows

    def no_work(*args, **kwargs):
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(sim, "simulate", no_work)
    monkeypatch.setattr(ex, "stationary", no_work)
    monkeypatch.setattr(rep, "_make_all", no_work)
    code, err = run_cli(argv, capsys)
    assert code == 2 and needle in err and "nonexistent-folder" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_output_folder_is_refused(tmp_path, capsys, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    code, err = run_cli(["simulate", "--out", str(tmp_path / "r.npz")], capsys)
    assert code == 2 and "not writable" in err


# ---------------------------------------------------------------------------
# 3. loading the wrong file


def test_loading_the_wrong_file_names_it_and_what_it_holds(tmp_path):
    small_result().save(tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"w\.npz holds a ExactWeakError, not a NoiseResult"):
        NoiseResult.load(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="holds a ExactWeakError, not a Ensemble"):
        Ensemble.load(tmp_path / "w.npz")
    small_ensemble().save(tmp_path / "e.npz")
    with pytest.raises(ValueError, match="holds a Ensemble, not a MomentumResult"):
        MomentumResult.load(tmp_path / "e.npz")
    data = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.npz: a truncated or damaged \.npz archive"):
        ExactWeakError.load(tmp_path / "t.npz")
    (tmp_path / "x.npz").write_bytes(os.urandom(256).replace(b"PK", b"QK"))
    with pytest.raises(ValueError, match=r"x\.npz: not an \.npz archive but binary data"):
        ExactWeakError.load(tmp_path / "x.npz")
    np.savez(tmp_path / "plain.npz", A=np.ones(2))
    with pytest.raises(ValueError, match="not a toylab result .it holds A"):
        Ensemble.load(tmp_path / "plain.npz")


@pytest.mark.parametrize("content,needle", [
    (b"a,b\n1,2\n", "not an .npz archive but a text file"),
    (bytes(range(256)), "not an .npz archive but binary data"),
])
def test_data_errors_are_one_line_with_exit_code_2(content, needle, tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    code, err = run_cli(["simulate", "--data", str(path)], capsys)
    assert code == 2 and needle in err and str(path) in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# 4. the cache: with Numba's own folders unwritable, a run still works


def test_a_run_works_when_no_numba_cache_folder_is_writable(tmp_path):
    script = (
        "import numba.core.caching as c\n"
        "impl = getattr(c, 'CacheImpl', None) or c._CacheImpl\n"
        "for cls in list(impl._locator_classes):\n"
        "    cls.from_function = classmethod(lambda cls, f, p: None)  # beside the source and user-wide: unwritable\n"
        "import numpy as np\n"
        "from toylab import SGD, GaussianLinearRegression, simulate\n"
        "m = GaussianLinearRegression([1.0, 2.0], [0.0, 1.0], 0.5)\n"
        "e = simulate(m, SGD(0.1, 2), np.zeros(2), [0.1, 0.2], paths=100, seed=1, progress=False)\n"
        "print('ok', e.mean('loss')[-1])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOYLAB_CACHE_DIR="/dev/null/unwritable")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


# ---------------------------------------------------------------------------
# 5. the CLI refuses what the API refuses


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["simulate", "--time", "0.25"], "--time 0.25"),
        (["simulate", "--time", "0.05", "--records", "1"], "whole number of steps"),
        (["simulate", "--algorithm", "em", "--dt", "0.03"], "--dt 0.03"),
        (["simulate", "--records", "0"], "--records"),
        (["simulate", "--algorithm", "ngd", "--sampler", "reshuffle"], "--sampler is not used by --algorithm ngd"),
        (["simulate", "--algorithm", "em", "--sampler", "without_replacement"], "--sampler is not used"),
        (["simulate", "--algorithm", "sgd", "--l", "8"], "--l is not used"),
        (["simulate", "--algorithm", "gd", "--batch-size", "8"], "--batch-size is not used"),
        (["stationary", "--paths", "10"], "unrecognized arguments: --paths"),
        (["stationary", "--seed", "1"], "unrecognized arguments: --seed"),
        (["stationary", "--backend", "numpy"], "unrecognized arguments: --backend"),
        (["stationary", "--workers", "2"], "unrecognized arguments: --workers"),
        (["regimes", "--lr", "0.1"], "unrecognized arguments: --lr"),
        (["weak-error", "--paths", "10"], "--paths is not used"),
        (["simulate", "--path", "10"], "unrecognized arguments: --path"),
        (["simulate", "--lr", "-0.1"], "--lr"),
    ],
)
def test_cli_refuses_options_it_would_change_or_ignore(argv, needle, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1


def test_simulate_records_exactly_the_times_asked(capsys):
    assert main(["simulate", "--time", "0.3", "--records", "3", "--paths", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(out["times"], [0.0, 0.1, 0.2, 0.3], rtol=1e-12)


# ---------------------------------------------------------------------------
# 6. bounds


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_paths_has_an_upper_limit(backend):
    model = tiny_regression()
    with pytest.raises(ValueError, match=r"paths must be <= 2\*\*40"):
        simulate(model, SGD(0.1, 1), np.zeros(2), [0.1], paths=2**63, backend=backend, progress=False)


def test_x0_beyond_the_divergence_bound_is_refused():
    with pytest.raises(ValueError, match="x0 has a coordinate beyond the divergence bound"):
        simulate(tiny_regression(), SGD(0.1, 1), np.array([1e30, 0.0]), [0.1], paths=10, progress=False)


def test_weak_error_levels_are_validated_and_warned(capsys):
    for bad in ("0", "21"):
        code, err = run_cli(["weak-error", "--levels", bad], capsys)
        assert code == 2 and "--levels must be between 1 and 20" in err
    assert main(["weak-error", "--levels", "13", "--steps", "1"]) == 0
    captured = capsys.readouterr()
    assert "runs SVAG up to l = 4096" in captured.err


# ---------------------------------------------------------------------------
# 7. numbers a reader can use


def test_weak_error_prints_a_summary(capsys):
    assert main(["weak-error", "--levels", "3", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("weak_error_exact [loss]: slope") and "ExactWeakError(" not in out
    assert "moment ODE's discretisation" in out


def test_an_unresolved_fit_says_so():
    from toylab.experiments import WeakError

    import dataclasses

    fields = {}
    for f in dataclasses.fields(WeakError):
        if f.name in ("config", "versions"):
            continue
        fields[f.name] = {"observable": "loss", "fitted": np.array([False, True])}.get(
            f.name, 1.0 if f.type in ("float", float) else np.ones(2))
    res = WeakError(**{**fields, "slope": float("nan"), "slope_ci": float("nan")})
    text = res.summary()
    assert "not resolved at this path count" in text and "nan" not in text


def test_json_is_strict(capsys):
    res = small_result()
    res = ExactWeakError(**{**res.to_dict(), "ls": res.ls, "times": res.times, "error": np.array([np.nan, 0.1]),
                            "max_error": np.array([np.inf, 0.1])})
    text = res.to_json()
    forbid = lambda c: (_ for _ in ()).throw(ValueError(c))  # noqa: E731
    parsed = json.loads(text, parse_constant=forbid)
    assert parsed["error"][0] is None and parsed["max_error"][0] is None
    assert main(["simulate", "--paths", "1", "--time", "0.2", "--records", "2", "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out, parse_constant=forbid)
    assert parsed["loss"]["stderr"][-1] is None  # one path: no standard error, null and not NaN


def test_exact_moments_that_blow_up_are_reported_in_words():
    model = tiny_regression(n=8, d=2, seed=3)
    crit = exact.critical_lr(model, 1)
    alg = SGD(1.5 * crit, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings
        with pytest.raises(ValueError, match=r"overflow float64 .* grow without bound; its moments diverge for lr "
                                             r"above"):
            exact.moments(model, alg, np.zeros(2), alg.lr * np.array([10, 100000]))


def test_ctrl_c_prints_one_line_and_exits_130(capsys, monkeypatch):
    import toylab.cli as cli

    def interrupted(args, model):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "simulate", (interrupted,) + cli.COMMANDS["simulate"][1:])
    assert main(["simulate"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "toylab simulate: interrupted"


def test_the_time_left_excludes_what_came_before_the_first_unit(monkeypatch):
    import io

    import toylab._progress as P

    clock = [0.0]
    monkeypatch.setattr(P.time, "perf_counter", lambda: clock[0])
    stream = io.StringIO()
    bar = P.Progress(4, stream=stream, delay=0, unit="runs")
    clock[0] = 10.0  # compiling, then the first run
    bar.update(1)
    clock[0] = 11.0
    bar.update(1)
    last = stream.getvalue().split("\r")[-1]
    assert "2.0s left" in last and "11.0s elapsed" in last


# ---------------------------------------------------------------------------
# 8. memory that scales


def test_a_sphere_in_200_dimensions_starts_in_under_1_gb():
    script = (
        "import resource, numpy as np\n"
        "from toylab import SphereRegression, SGD, simulate\n"
        "rng = np.random.default_rng(0)\n"
        "m = SphereRegression(rng.normal(size=(64, 200)), rng.normal(size=64))\n"
        "kw = dict(paths=64, seed=1, progress=False)\n"
        "a = simulate(m, SGD(0.1, 4), np.ones(200), [0.1, 0.2], backend='cpu', **kw)\n"
        "b = simulate(m, SGD(0.1, 4), np.ones(200), [0.1, 0.2], backend='numpy', **kw)\n"
        "assert np.allclose(a.mean('loss'), b.mean('loss'), rtol=1e-10), (a.mean('loss'), b.mean('loss'))\n"
        # the process's own peak (kB): ru_maxrss would carry over the peak of the forking
        # test process (Linux keeps the larger across exec), VmHWM is this image's
        "import os\n"
        "status = '/proc/self/status'\n"
        "peak = [l.split()[1] for l in open(status) if l.startswith('VmHWM')][0] if os.path.exists(status) "
        "else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(peak)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) < 1024 * 1024  # kB


# ---------------------------------------------------------------------------
# 9. provenance


def test_results_carry_provenance_and_code_hashes(tmp_path):
    import numba

    @numba.njit
    def bump(x):
        return x[0] * x[0]

    @numba.njit
    def bump_other(x):
        return x[0] * x[0] + 1.0

    model = tiny_regression(n=6, d=2)
    runs = [simulate(model, SGD(0.1, 2), np.zeros(2), [0.1], paths=64, seed=0, observables={"g": fn},
                     progress=False) for fn in (bump, bump_other)]
    assert runs[0].config["observables"]["g"] != runs[1].config["observables"]["g"]
    runs[0].save(tmp_path / "e.npz")
    prov = Ensemble.load(tmp_path / "e.npz").versions["provenance"]
    for key in ("git_commit", "date", "platform", "cpu", "threads", "command"):
        assert key in prov
    assert prov["threads"] >= 1 and prov["date"].startswith("20")
    assert runs[0].versions["toylab"] == toylab.__version__


# ---------------------------------------------------------------------------
# 10-14. claims worded as measured


def test_section_5_functions_are_named_after_what_they_implement():
    from toylab import theory
    from toylab.experiments import LsrResult

    assert "Theorem 5.6" in theory.lsr_kappa_max.__doc__.splitlines()[0]
    assert "eq. (14)" in theory.lsr_critical_ratio.__doc__.splitlines()[0]
    assert "eq. (14)" in LsrResult.critical_ratio.__doc__.lower()
    text = (ROOT / "README.md").read_text() + (ROOT / "docs" / "mathematics.md").read_text()
    assert "Theorem 5.5" not in text and "Theorems 5.5" not in text


def test_regimes_attributes_the_noise_scale_and_states_the_measured_crossover():
    from toylab.demos import demo_regression
    from toylab.experiments import regimes

    model = demo_regression()
    res = regimes(model, [1, 4, 16, 64], epochs=2.0, progress=False)
    assert "McCandlish" in res.summary()
    assert 3.5 < res.crossover / res.b_noise < 5.5  # about 4.5: the noise scale sets the order, not the place
    assert "measured crossover" in res.summary()
    timed = regimes(model, [1, 4], time=5.0, progress=False)
    assert np.all(timed.at_edge) and "grid's edge" in timed.summary()


def test_lemma_4_7_iii_difference_from_the_printed_lemma_is_stated():
    text = (ROOT / "docs" / "mathematics.md").read_text()
    assert "differs from the paper's printed Lemma 4.7(iii)" in text


def test_stationary_ratio_holds_along_every_eigenvector_for_any_noise():
    """The per-direction closed form 1/(1 - eta h/2) the figure draws, against the exact
    stationary covariances, for a C that does not commute with H."""
    H = np.diag([1.0, 0.5, 2.0])
    C = np.array([[0.3, 0.1, 0.05], [0.1, 0.2, -0.04], [0.05, -0.04, 0.4]])
    model = NoisyQuadratic(H, C)
    res = stationary(model, [0.1, 0.5, 0.9], 1, ls=(4,))
    assert isinstance(res, StationaryResult)
    h, U = np.linalg.eigh(H)
    for e, lr in enumerate(res.lrs):
        sgd = exact.stationary(model, SGD(lr, 1)).cov
        sde = exact.stationary(model, toylab.SDE(lr, 1)).cov
        svag = exact.stationary(model, SVAG(lr, 1, 4)).cov
        for j in range(3):
            u = U[:, j]
            assert abs((u @ sgd @ u) / (u @ sde @ u) - res.direction_ratio()[j, e]) < 1e-10
            assert abs((u @ svag @ u) / (u @ sde @ u) - res.direction_ratio(4)[j, e]) < 1e-10


# ---------------------------------------------------------------------------
# the expected pieces


def test_version_license_citation_and_typing(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"toylab {toylab.__version__}"
    out = subprocess.run([sys.executable, "-m", "toylab", "--version"], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0 and out.stdout.startswith("toylab ")
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = (ROOT / "CITATION.cff").read_text()
    assert "On the Validity of Modeling SGD" in citation and "cff-version" in citation
    assert (Path(toylab.__file__).parent / "py.typed").exists()


def test_plotting_leaves_the_backend_alone_and_returns_figures(tmp_path):
    script = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import toylab.plotting as P\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "from toylab.experiments import ExactWeakError\n"
        f"r = ExactWeakError.load({str(ROOT / 'figures' / 'weak_error_exact.npz')!r})\n"
        "fig = P.plot_weak_error(r)\n"
        "assert type(fig).__name__ == 'Figure' and len(fig.axes) == 2\n"
        f"P.plot_weak_error(r, {str(tmp_path / 'w.png')!r})\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "w.png").stat().st_size > 10_000


def test_public_type_hints_resolve():
    import typing

    from toylab.models import FiniteSum, GaussianLinearRegression, LinearRegression, NoisyQuadratic

    for fn in (toylab.simulate, exact.moments, exact.stationary, exact.critical_lr, FiniteSum.__init__,
               LinearRegression.__init__, GaussianLinearRegression.__init__, NoisyQuadratic.__init__,
               Ensemble.mean, toylab.theory.gaussian_critical_lr):
        hints = typing.get_type_hints(fn, localns={"Model": object, "Algorithm": object})
        assert "return" in hints and len(hints) >= 2, fn
    import toylab.experiments as ex

    for module in (toylab.theory, ex):
        for name in module.__all__:
            fn = getattr(module, name)
            if callable(fn) and not isinstance(fn, type):
                assert "return" in typing.get_type_hints(fn), f"{module.__name__}.{name}"
