"""The experiments: exact ones against closed forms, Monte Carlo ones in standard errors,
every sweep the same on every executor, results that save and load."""

import numpy as np
import pytest

from toylab import NoisyQuadratic, SphereRegression
from toylab.demos import SPHERE_X0, demo_regression, demo_sphere
from toylab.experiments import (
    EquilibriumResult,
    Executor,
    LsrResult,
    RegimesResult,
    StationaryResult,
    SvagPathsResult,
    equilibrium,
    lsr,
    regimes,
    stationary,
    svag_paths,
)


@pytest.fixture(scope="module")
def sphere():
    return demo_sphere()


# ---------------------------------------------------------------------------
# exact experiments


def test_stationary_ratio_is_the_closed_form(tmp_path):
    """Diagonal H and C: tr S_SGD / tr S_SDE from the exact moment maps equals the Lyapunov closed
    form, and per direction the excess is exactly 1/(1 - eta h/2); SVAG closes it as 1/(1 - eta h/(2l))."""
    h, c = np.array([1.0, 0.5, 2.0]), np.array([0.3, 0.2, 0.4])
    lrs = np.geomspace(0.01, 0.9, 7)
    res = stationary(NoisyQuadratic(np.diag(h), np.diag(c)), lrs, 2, ls=(2, 8))
    np.testing.assert_allclose(res.ratio, res.predicted_ratio, rtol=1e-10)
    for i, lr in enumerate(lrs):
        s_sde = lr * c / 2 / (2 * h)
        np.testing.assert_allclose(res.trace_sde[i], s_sde.sum(), rtol=1e-10)
        np.testing.assert_allclose(res.trace_sgd[i], (s_sde / (1 - lr * h / 2)).sum(), rtol=1e-10)
        for j, l in enumerate(res.ls):
            np.testing.assert_allclose(res.trace_svag[j, i], (s_sde / (1 - lr * h / (2 * l))).sum(), rtol=1e-10)
    assert np.all(np.diff(res.ratio) > 0) and np.all(res.svag_ratio[1] < res.svag_ratio[0])
    res.save(tmp_path / "s.npz")
    back = StationaryResult.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.trace_svag, res.trace_svag)


def test_regimes_linear_then_saturating(tmp_path):
    model = demo_regression()
    res = regimes(model, [1, 2, 4, 32, 64], epochs=2.0, progress=False)
    # noise-dominated: eta doubles with B (to the grid's refinement)
    assert 1.8 < res.best_lr[1] / res.best_lr[0] < 2.2 and 1.8 < res.best_lr[2] / res.best_lr[1] < 2.2
    # curvature-dominated: far from linear, and below the stability limit
    assert res.best_lr[-1] / res.best_lr[-2] < 1.4 and res.best_lr[-1] < res.lr_limit
    assert res.batch_sizes[2] < res.b_noise < res.batch_sizes[-2]
    res.save(tmp_path / "r.npz")
    assert RegimesResult.load(tmp_path / "r.npz").b_noise == res.b_noise


def test_regimes_budgets_of_steps_and_sde_time():
    model = demo_regression()
    lrs = np.geomspace(0.005, 1.3, 24)
    steps = regimes(model, [1, 4, 16, 64], steps=30, lrs=lrs, progress=False)
    assert np.all(steps.n_steps == 30) and np.all(np.diff(steps.best_lr) > 0)
    # a budget of SDE time T: T / eta steps; more eta/B is more noise and no more time, so the
    # smallest eta is best, for every B
    timed = regimes(model, [1, 4, 16, 64], time=5.0, lrs=lrs, progress=False)
    np.testing.assert_array_equal(timed.n_steps[0], np.maximum(1, np.round(5.0 / lrs)))
    assert np.all(timed.best_lr == lrs[0])
    assert "time = 5" in timed.summary()
    with pytest.raises(ValueError, match="at most one budget"):
        regimes(model, [1], epochs=1.0, time=2.0, progress=False)
    with pytest.raises(ValueError, match="steps"):
        regimes(model, [1], steps=0, progress=False)


def test_sweeps_identical_on_every_executor():
    """Serial, a process pool and a Dask cluster give the same numbers (each config has its own seed)."""
    from dask.distributed import LocalCluster

    model = demo_regression(n=16, d=2)
    serial = regimes(model, [1, 4], epochs=1.0, lrs=np.geomspace(0.01, 1.0, 6), progress=False)
    pool = regimes(model, [1, 4], epochs=1.0, lrs=np.geomspace(0.01, 1.0, 6), progress=False,
                   executor=Executor(workers=2))
    np.testing.assert_array_equal(pool.final_loss, serial.final_loss)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = regimes(model, [1, 4], epochs=1.0, lrs=np.geomspace(0.01, 1.0, 6), progress=False,
                       executor=Executor(scheduler=cluster.scheduler_address))
    np.testing.assert_array_equal(dask.final_loss, serial.final_loss)


def test_executor_rejects_bad_input():
    with pytest.raises(ValueError, match="not both"):
        Executor(workers=2, scheduler="tcp://x:1")
    with pytest.raises(ValueError, match="workers"):
        Executor(workers=0)
    with pytest.raises(TypeError, match="scheduler"):
        Executor(scheduler=3)


# ---------------------------------------------------------------------------
# Monte Carlo experiments (small sizes; the figures use large ones)


def test_equilibrium_relations(sphere, tmp_path):
    """(11) for SGD, SVAG's relation and EM's hold within 4 s.e.; (12) holds for the extrapolated SDE
    and is approached as l grows and dt shrinks; Theorem 5.2: SGD's closeness to the SDE is at
    least the minimum its G/N allows."""
    res = equilibrium(sphere, 0.2, 16, 0.5, x0=SPHERE_X0, time=12.0, paths=1000, seed=3, progress=False)
    assert np.all(res.equilibrated)
    assert np.all(np.abs(res.own_residual) < 4 * res.own_residual_se)
    s = res.sde
    assert abs(s["residual_12"]) < 4 * s["residual_12_se"]
    svag = res.residual_12[res.kind == 1]
    em = res.residual_12[res.kind == 2]
    assert np.all(np.diff(svag) < 0) and np.all(np.diff(em) < 0) and svag[0] < res.residual_12[0]
    closeness = max(s["closeness_R"], s["closeness_N"])
    se = max(s["closeness_R_se"], s["closeness_N_se"])
    assert closeness + 4 * se >= s["min_closeness"]
    res.save(tmp_path / "e.npz")
    back = EquilibriumResult.load(tmp_path / "e.npz")
    assert back.summary() == res.summary()


def test_equilibrium_numpy_backend_agrees(sphere):
    """The experiment runs on the NumPy reference too, with the same numbers up to rounding."""
    kw = dict(x0=SPHERE_X0, time=2.0, ls=(2,), dts=(0.05, 0.025), paths=64, seed=5, progress=False, burn_in=1.0)
    a = equilibrium(sphere, 0.2, 4, 0.5, backend="numpy", **kw)
    b = equilibrium(sphere, 0.2, 4, 0.5, backend="cpu", **kw)
    np.testing.assert_allclose(a.R, b.R, rtol=1e-9)
    np.testing.assert_allclose(a.N, b.N, rtol=1e-9)


def test_equilibrium_rejects_bad_input(sphere):
    with pytest.raises(ValueError, match="scale invariant"):
        equilibrium(demo_regression(), 0.1, 2, 0.5, x0=np.zeros(5))
    with pytest.raises(ValueError, match="weight_decay"):
        equilibrium(sphere, 0.1, 2, 0.0, x0=SPHERE_X0)
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        equilibrium(sphere, 5.0, 2, 0.5, x0=SPHERE_X0)


def test_lsr_observed_within_prediction(sphere, tmp_path):
    """Theorem 5.6 (sharper constant): no kappa beyond kappa_max can be C-close; the sweep breaks at or before it."""
    res = lsr(sphere, 0.02, 1, 0.5, x0=SPHERE_X0, kappas=(1, 2, 4, 8, 16, 32), time=12.0, paths=300, seed=7,
              progress=False)
    assert res.closeness[0] == 1.0
    assert res.kappa_observed <= res.kappa_max
    beyond = res.kappas > res.kappa_max
    assert np.all(res.closeness_low[beyond] > res.C)
    res.save(tmp_path / "l.npz")
    assert LsrResult.load(tmp_path / "l.npz").kappa_max == res.kappa_max


def test_svag_paths_converge_to_sde(sphere, tmp_path):
    res = svag_paths(sphere, 0.05, 4, 0.5, x0=SPHERE_X0, time=2.0, ls=(4, 16), paths=500, seed=9, progress=False)
    # by l = 16 the loss follows the SDE's within Monte Carlo noise at every record time
    assert res.gap_to_sde("loss")[2] < 4.5
    assert res.labels[-1].startswith("SDE")
    res.save(tmp_path / "p.npz")
    back = SvagPathsResult.load(tmp_path / "p.npz")
    assert back.labels == res.labels and np.array_equal(back.mean, res.mean)


def test_weak_error_monte_carlo(sphere, tmp_path):
    """SVAG's weak error on the sphere: the two SDE references agree, and the error falls with l."""
    from toylab.experiments import WeakError, weak_error

    res = weak_error(sphere, 0.4, 4, ls=(1, 2, 8), time=1.2, x0=SPHERE_X0, observable="sq_norm", weight_decay=0.5,
                     ref_ls=(32, 64), paths=2000, seed=11, progress=False)
    assert res.ref_gap < 4
    assert res.error[0] - res.error[-1] > 4 * np.hypot(res.error_se[0], res.error_se[-1])
    # Euler-Maruyama's error falls with dt as well
    assert res.em_error[0] > res.em_error[-1]
    res.save(tmp_path / "w.npz")
    back = WeakError.load(tmp_path / "w.npz")
    assert back.summary() == res.summary()


def test_sphere_fixture_is_the_demo(sphere):
    assert isinstance(sphere, SphereRegression) and sphere.dim == 3


def test_weak_error_non_gaussian_gap_on_a_linear_model(tmp_path):
    """On a linear model the quadratic loss sees no gap between SGD and NGD (equal first two
    moments), |x|^4 does; several observables come from the same runs."""
    from toylab.experiments import WeakError, weak_error

    model = demo_regression(n=8, d=2, seed=4)
    loss, norm4 = weak_error(model, 0.1, 1, ls=(1, 4), time=0.3, x0=np.array([2.0, -1.0]),
                             observable=("loss", "norm4"), ref_ls=(16, 32), paths=4000, seed=3, progress=False)
    assert loss.gaussian_gap < 4 * loss.gaussian_gap_se
    assert norm4.gaussian_gap > 4 * norm4.gaussian_gap_se
    # the same runs: SGD is the l = 1 run, and the NGD run is shared
    np.testing.assert_array_equal(loss.sgd_mean, loss.svag_mean[0])
    assert loss.config == norm4.config
    norm4.save(tmp_path / "w.npz")
    assert WeakError.load(tmp_path / "w.npz").gaussian_gap == norm4.gaussian_gap
    with pytest.raises(ValueError, match="observable"):
        weak_error(model, 0.3, 1, x0=np.zeros(2), observable="cubic", progress=False)
