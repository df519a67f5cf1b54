"""The command line: reproduce writes figures with loadable data; bad options exit 2."""

import re
import subprocess
import sys

import numpy as np
import pytest

from toylab import Ensemble
from toylab.cli import main
from toylab.experiments import ExactWeakError


def test_reproduce_quick_writes_figure_and_data(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--out", str(tmp_path), "--backend", "cpu"]) == 0
    png = tmp_path / "weak_error_exact.png"
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = ExactWeakError.load(tmp_path / "weak_error_exact.npz")
    assert res.observable == "loss" and res.config["batch_size"] == 4
    assert abs(res.slope() + 1) < 0.01
    out = capsys.readouterr().out
    assert "weak_error_exact: slope" in out and "wrote" in out
    # the Monte Carlo figure: simulated on the chosen backend, checked against exact moments
    assert (tmp_path / "svag_monte_carlo.png").stat().st_size > 10_000
    ens = Ensemble.load(tmp_path / "svag_monte_carlo_l4.npz")
    assert ens.config["algorithm"]["l"] == 4.0 and ens.config["backend"] == "cpu"
    worst = float(out.split("largest |mean - exact| = ")[1].split()[0])
    assert worst < 4
    # every experiment's figure, with data that loads back into its result object
    from toylab.experiments import EquilibriumResult, LsrResult, RegimesResult, StationaryResult, SvagPathsResult

    for name, cls in [("stationary", StationaryResult), ("regimes", RegimesResult),
                      ("equilibrium", EquilibriumResult), ("lsr", LsrResult)]:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        cls.load(tmp_path / f"{name}.npz")
    assert (tmp_path / "svag_paths.png").stat().st_size > 10_000
    SvagPathsResult.load(tmp_path / "svag_paths_large_lr.npz")
    # the Monte Carlo weak error with test functions of higher order, and the regimes at fixed SDE time
    from toylab.experiments import WeakError

    assert (tmp_path / "weak_error_linear_mc.png").stat().st_size > 10_000
    assert WeakError.load(tmp_path / "weak_error_linear_norm4.npz").observable == "norm4"
    assert RegimesResult.load(tmp_path / "regimes_time.npz").config["budget"] == {"time": 5.0}
    # heavy ball and the critical learning rate of minibatch noise, with their Monte Carlo points
    from toylab.experiments import MomentumResult, NoiseResult

    assert (tmp_path / "momentum.png").stat().st_size > 10_000
    assert (tmp_path / "noise.png").stat().st_size > 10_000
    mom = MomentumResult.load(tmp_path / "momentum.npz")
    assert list(mom.momenta) == [0.0, 0.5, 0.9] and np.all(np.abs(mom.mc_z) < 4)
    for name in ("noise_gaussian", "noise_linear"):
        res = NoiseResult.load(tmp_path / f"{name}.npz")
        assert np.all(np.abs(res.mc_z) < 4) and np.all(res.critical_sgd < res.critical_sde)
    assert "momentum: tr Cov" in out and "noise [" in out
    # escape over a barrier, with the SDE's exact rate
    from toylab.experiments import EscapeResult

    assert (tmp_path / "escape.png").stat().st_size > 10_000
    esc = EscapeResult.load(tmp_path / "escape.npz")
    assert esc.config["paths"] == 256 and esc.rate.shape == (3, 6, 7) and "escape [CircleBarrier" in out
    # what the run produced, listed with hashes; nothing staged is left behind
    import hashlib
    import json

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "noise.png" in manifest["files"] and "stationary.npz" in manifest["files"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(list(manifest["files"]) + ["manifest.json"])


def test_result_round_trip(tmp_path):
    res = ExactWeakError(
        ls=np.array([1.0, 2.0]),
        times=np.array([0.1]),
        error=np.array([0.2, 0.1]),
        max_error=np.array([0.3, 0.15]),
        observable="loss",
        config={"lr": 0.1},
        versions={"toylab": "x"},
    )
    res.save(tmp_path / "r.npz")
    back = ExactWeakError.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.error, res.error)
    assert back.config == res.config and back.observable == "loss"
    assert '"observable": "loss"' in res.to_json()


BAD = [
    ["reproduce", "--bogus"],
    ["nonsense"],
    [],
    ["reproduce", "--backend", "gpu"],
    ["stationary", "--lrs", "-1"],
    ["regimes", "--batch-sizes", "0"],
    ["regimes", "--epochs", "1", "--budget-time", "2"],
    ["regimes", "--budget-steps", "0"],
    ["weak-error", "--model", "quadratic", "--observable", "bogus"],
    ["equilibrium", "--weight-decay", "0"],
    ["simulate", "--lr", "abc"],
    ["simulate", "--data", "/no/such/file.npz"],
    ["simulate", "--model", "quadratic", "--data", "x.npz"],
    ["lsr", "--workers", "2", "--scheduler", "tcp://h:1"],
    ["simulate", "--x0", "1", "2"],
]


@pytest.mark.parametrize("argv", BAD)
def test_bad_options_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("toylab") and "error:" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_console_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "toylab", "reproduce", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "--quick" in text and "default: figures" in text and "default: auto" in text


COMMANDS = ["weak-error", "equilibrium", "lsr", "stationary", "regimes", "simulate", "momentum", "noise"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_defaults(command, capsys):
    """Every option a command takes is listed with its default; the common options a command
    would ignore are not offered at all (cli.NOT_TAKEN)."""
    from toylab.cli import NOT_TAKEN

    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    skip = NOT_TAKEN.get(command, set())
    for name in ("model", "data", "lr", "paths", "seed", "backend", "json", "out", "workers", "scheduler"):
        option = "--" + name.replace("_", "-")
        assert bool(re.search(rf"{option}(?![\w-])", text)) == (name not in skip), option
    assert "(default:" in text


def test_command_json_and_out(tmp_path, capsys):
    import json

    from toylab.experiments import StationaryResult

    out = tmp_path / "s.npz"
    assert main(["stationary", "--lrs", "0.1", "0.5", "--batch-size", "2", "--json", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lrs"] == [0.1, 0.5] and data["config"]["batch_size"] == 2
    back = StationaryResult.load(out)
    assert back.trace_sgd.tolist() == data["trace_sgd"]


def test_user_data_set(tmp_path, capsys):
    """--data FILE.npz runs a command on the user's (A, y)."""
    rng = np.random.default_rng(0)
    data = tmp_path / "mine.npz"
    np.savez(data, A=rng.normal(size=(12, 2)), y=rng.normal(size=12))
    assert main(["weak-error", "--data", str(data), "--levels", "5", "--steps", "4", "--json"]) == 0
    import json

    res = json.loads(capsys.readouterr().out)
    model = dict(res["config"]["model"])
    assert len(model.pop("code")) == 20  # the hash of the per-sample functions' code
    assert model == {"model": "LinearRegression", "dim": 2, "n_samples": 12, "noise": "moments"}
    # a test function the first two moments do not determine: Monte Carlo, with the SGD-NGD gap
    assert main(["weak-error", "--data", str(data), "--levels", "2", "--steps", "2", "--observable", "norm4",
                 "--paths", "200", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["observable"] == "norm4" and "gaussian_gap" in res
    assert main(["regimes", "--data", str(data), "--batch-sizes", "1", "2", "--budget-steps", "5", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["config"]["budget"] == {"steps": 5} and res["n_steps"] == [[5] * len(res["lrs"])] * 2
    assert main(["simulate", "--data", str(data), "--model", "sphere", "--paths", "64", "--json",
                 "--x0", "1", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["config"]["model"]["model"] == "SphereRegression" and len(res["loss"]["mean"]) == 11
    bad = tmp_path / "bad.npz"
    np.savez(bad, A=np.ones((3, 2)))
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--data", str(bad)])
    assert info.value.code == 2
    assert "missing array(s) y" in capsys.readouterr().err


def test_examples_run():
    """The teaching scripts run, each well under 30 s."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    for script in sorted((root / "examples").glob("*.py")):
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, (script.name, out.stderr[-2000:])
        assert out.stdout.strip()
