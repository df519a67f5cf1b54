"""Plotting for people: every result draws itself, an ensemble draws its observables with error bands."""

import matplotlib
import numpy as np
import pytest

import toylab.experiments as ex
from toylab import SGD, Ensemble, simulate

from .conftest import tiny_regression

matplotlib.use("Agg")  # this test process only: no display

SAVED = [("weak_error_exact", ex.ExactWeakError, 2), ("weak_error_linear_norm4", ex.WeakError, 3),
         ("stationary", ex.StationaryResult, 2), ("regimes", ex.RegimesResult, 2),
         ("equilibrium", ex.EquilibriumResult, 2), ("lsr", ex.LsrResult, 2),
         ("svag_paths_small_lr", ex.SvagPathsResult, 2), ("momentum", ex.MomentumResult, 2),
         ("noise_linear", ex.NoiseResult, 2)]


@pytest.mark.parametrize("name,cls,panels", SAVED, ids=[s[0] for s in SAVED])
def test_every_result_plots_itself(name, cls, panels, tmp_path):
    from pathlib import Path

    res = cls.load(Path(__file__).resolve().parent.parent / "figures" / f"{name}.npz")
    fig = res.plot()
    assert len(fig.axes) >= panels
    for ax in fig.axes[:panels]:
        assert ax.get_xlabel() and ax.get_ylabel()
    res.plot(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_ensemble_plot_draws_means_with_bands_on_a_given_axes():
    import matplotlib.pyplot as plt

    model = tiny_regression(n=6, d=2)
    runs = [simulate(model, SGD(lr, 2), np.zeros(2), [0.0, 0.2, 0.4], paths=200, seed=0, backend="numpy",
                     progress=False) for lr in (0.1, 0.2)]
    fig, ax = plt.subplots()
    for ens in runs:
        assert ens.plot("loss", ax=ax) is fig
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # two means, two +-2 s.e. bands
    assert "SDE time" in ax.get_xlabel()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), runs[0].mean("loss"))
    with pytest.raises(ValueError, match="observable must be one of"):
        runs[0].plot("nope")
    plt.close("all")
