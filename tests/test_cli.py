"""The command line: reproduce writes figures with loadable data; bad options exit 2."""

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


@pytest.mark.parametrize("argv", [["reproduce", "--bogus"], ["nonsense"], [], ["reproduce", "--backend", "gpu"]])
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
