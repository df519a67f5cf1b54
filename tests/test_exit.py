"""First passage in the kernels: ``simulate(..., exit=)`` on every backend (issue: escape,
points 1, 7 and 8).

Exact before Monte Carlo: SGD on the per-sample losses +-x is a simple random
walk, whose exit time from (-N, N) lattice steps has mean N^2 and variance
(2/3) N^2 (N^2 - 1) exactly; Euler-Maruyama's exit times, extrapolated in
sqrt(dt), against ``toylab.exact.mean_exit_time``.
"""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from toylab import SDE, SGD, SVAG, Ensemble, EulerMaruyama, exact, simulate
from toylab.experiments import Executor
from toylab.models import CircleBarrier, GaussianLinearRegression
from toylab.models.barrier import circle_barrier_exit

from .exit_helpers import beyond_095, outside_interval, tilted

ALGORITHMS = [SGD(0.25, 2), SVAG(0.25, 2, 4), EulerMaruyama(0.25, 2, 0.0625), SGD(0.25, 2, momentum=0.5)]


def _exit_fields(ens):
    return ens.exited, ens.count, ens.diverged, ens.exit_count, ens.censored


@pytest.mark.parametrize("alg", ALGORITHMS, ids=lambda a: type(a).__name__ + str(getattr(a, "momentum", "")))
def test_numpy_and_cpu_exit_the_same_paths_at_the_same_steps(alg):
    """One seed: the exit counts per record, the censored, the diverged and the exit-time
    statistics are equal bit for bit; the observables equal up to rounding."""
    model = CircleBarrier(0.2, 1.5)
    times = [5.0, 10.0, 20.0, 40.0]
    runs = [simulate(model, alg, [2.0], times, paths=300, seed=7, backend=b, exit=circle_barrier_exit,
                     progress=False) for b in ("numpy", "cpu")]
    a, c = runs
    assert 0 < a.exit_count < 300 and a.censored > 0
    for x, y in zip(_exit_fields(a), _exit_fields(c)):
        np.testing.assert_array_equal(x, y)
    assert (a._exit_mean, a._exit_m2) == (c._exit_mean, c._exit_m2)
    np.testing.assert_allclose(a._mean, c._mean, rtol=1e-10, atol=1e-12)
    assert np.all(a.count + a.exited + a.diverged == 300)


def test_cuda_exits_the_paths_the_cpu_does():
    model = tilted([1.0, -1.0, 0.5, -0.5])
    alg = SGD(0.25, 1)
    times = [0.5, 1.0, 2.0, 4.0]
    c, g = (simulate(model, alg, [0.0], times, paths=100, seed=3, backend=b, exit=beyond_095, progress=False)
            for b in ("cpu", "cuda"))
    assert 0 < c.exit_count < 100
    for x, y in zip(_exit_fields(c), _exit_fields(g)):
        np.testing.assert_array_equal(x, y)
    assert c._exit_mean == g._exit_mean
    np.testing.assert_allclose(c._mean, g._mean, rtol=1e-12)


def test_simple_random_walk_exit_time_is_exact():
    """Steps +-0.1 (slopes +-1, lr 0.1, B = 1): leaving |x| > 0.95 takes N = 10 lattice steps
    out, E tau = N^2 = 100 steps (time 10) and Var tau = (2/3) N^2 (N^2 - 1) = 6600 steps^2."""
    model = tilted([1.0, -1.0])
    ens = simulate(model, SGD(0.1, 1), [0.0], [50.0, 200.0], paths=20_000, seed=1, exit=beyond_095,
                   progress=False)
    assert ens.censored == 0 and ens.diverged[-1] == 0
    exact_mean, exact_var = 10.0, 6600 * 0.1**2
    assert abs(ens.mean_exit_time - exact_mean) < 4 * ens.exit_time_stderr
    assert abs(ens.exit_time_stderr - np.sqrt(exact_var / 20_000)) < 0.05 * np.sqrt(exact_var / 20_000)
    # survival at t = 50 (500 steps) is tiny but positive; its binomial standard error is stated
    assert ens.survival[0] > 0 and ens.survival_stderr[0] > 0
    # the histogram's counts add up to the exits
    edges, counts = ens.exit_histogram()
    assert counts.sum() == ens.exit_count and len(edges) == len(counts) + 1


def test_censored_paths_are_counted_not_averaged_in():
    model = tilted([1.0, -1.0])
    ens = simulate(model, SGD(0.1, 1), [0.0], [2.0, 5.0], paths=2000, seed=1, exit=beyond_095, progress=False)
    assert ens.censored > 0
    assert ens.censored + ens.exit_count + ens.diverged[-1] == 2000
    assert np.isnan(ens.mean_exit_time) and np.isnan(ens.exit_time_stderr)
    # the conditional mean is over the exited only, below the horizon
    assert 0 < ens.conditional_mean_exit_time <= 5.0
    # the rate counts the censored paths' time at risk
    at_risk = ens.exit_count * ens.conditional_mean_exit_time + ens.censored * 5.0
    assert ens.exit_rate == pytest.approx(ens.exit_count / at_risk, rel=1e-14)
    assert "censored" in repr(ens)


def test_euler_maruyama_exit_time_extrapolated_in_sqrt_dt_matches_the_quadrature():
    """Monitored only at its steps, Euler-Maruyama misses crossings: a bias O(sqrt(dt)).
    Runs at dt and dt/4 extrapolate linearly in sqrt(dt) (2 T(dt/4) - T(dt)) to the exact
    mean exit time within 4 standard errors; the run at dt alone is biased by more."""
    model = GaussianLinearRegression([1.0], [0.0], 0.5)
    lr, B, x0 = 0.5, 1, 0.1
    truth = exact.mean_exit_time(model, SDE(lr, B), x0, -0.3, 0.5)
    runs = []
    for dt in (0.01, 0.0025):
        ens = simulate(model, EulerMaruyama(lr, B, dt), [x0], [20.0], paths=40_000, seed=2,
                       exit=outside_interval, progress=False)
        assert ens.censored == 0
        runs.append((ens.mean_exit_time, ens.exit_time_stderr))
    (t1, s1), (t4, s4) = runs
    assert t1 - truth > 4 * s1  # the bias is there, upward
    extrapolated, stderr = 2 * t4 - t1, np.hypot(2 * s4, s1)
    assert abs(extrapolated - truth) < 4 * stderr


def test_exit_statistics_save_load_and_json(tmp_path):
    import json

    ens = simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.0], [2.0, 5.0], paths=500, seed=1, exit=beyond_095,
                   progress=False)
    ens.save(tmp_path / "e.npz")
    back = Ensemble.load(tmp_path / "e.npz")
    for x, y in zip(_exit_fields(ens), _exit_fields(back)):
        np.testing.assert_array_equal(x, y)
    assert back.exit_rate == ens.exit_rate and back.config["exit"] == ens.config["exit"]
    doc = json.loads(ens.to_json())
    assert doc["exit"]["censored"] == ens.censored and doc["exit"]["mean_exit_time"] is None
    # an ensemble without an exit test says so
    plain = simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.0], [2.0], paths=64, progress=False)
    with pytest.raises(ValueError, match="without an exit test"):
        plain.survival


SCRIPT = textwrap.dedent(
    """
    import sys
    from toylab import SVAG, simulate
    from toylab.models.barrier import CircleBarrier, circle_barrier_exit
    ens = simulate(CircleBarrier(0.3, 0.3), SVAG(0.25, 2, 2), [0.5], [5.0, 20.0], paths=3000, seed=5,
                   exit=circle_barrier_exit, progress=False, chunk_size=int(sys.argv[2]))
    ens.save(sys.argv[1])
    """
)


def test_exit_statistics_bit_identical_across_threads_and_chunks(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    results = []
    for threads, chunk in [(1, 64), (2, 64), (2, 1000)]:
        out = tmp_path / f"t{threads}-{chunk}.npz"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONPATH=os.getcwd())
        subprocess.run([sys.executable, str(script), str(out), str(chunk)], check=True, env=env, cwd=os.getcwd())
        results.append(Ensemble.load(out))
    for other in results[1:]:
        for x, y in zip(_exit_fields(results[0]), _exit_fields(other)):
            np.testing.assert_array_equal(x, y)
        assert (results[0]._exit_mean, results[0]._exit_m2) == (other._exit_mean, other._exit_m2)
        np.testing.assert_array_equal(results[0]._mean, other._mean)


def _bits(ens):
    return (ens._mean, ens._m2, ens.count, ens.exited, ens._exit_mean, ens._exit_m2)


def test_executor_splits_paths_and_merges_bit_identically():
    """200 000 paths are four merge groups: split over a process pool and over a Dask
    LocalCluster, the merged ensemble is bit for bit the local run's."""
    from dask.distributed import LocalCluster

    model = tilted([1.0, -1.0, 0.5, -0.5])
    kw = dict(paths=200_000, seed=3, exit=beyond_095, progress=False)
    local = simulate(model, SGD(0.25, 1), [0.0], [1.0, 4.0], **kw)
    pooled = simulate(model, SGD(0.25, 1), [0.0], [1.0, 4.0], executor=Executor(workers=2), **kw)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = simulate(model, SGD(0.25, 1), [0.0], [1.0, 4.0], executor=Executor(scheduler=cluster.scheduler_address),
                        **kw)
    for other in (pooled, dask):
        for x, y in zip(_bits(local), _bits(other)):
            np.testing.assert_array_equal(x, y)


def test_executor_without_exit_and_bad_executor():
    model = tilted([1.0, -1.0, 0.5, -0.5])
    local = simulate(model, SGD(0.25, 1), [0.0], [1.0], paths=70_000, seed=4, progress=False)
    split = simulate(model, SGD(0.25, 1), [0.0], [1.0], paths=70_000, seed=4, progress=False,
                     executor=Executor(workers=2))
    np.testing.assert_array_equal(local._mean, split._mean)
    np.testing.assert_array_equal(local._m2, split._m2)
    with pytest.raises(TypeError, match="executor must be a toylab.experiments.Executor"):
        simulate(model, SGD(0.25, 1), [0.0], [1.0], paths=64, executor="dask", progress=False)


@numba.njit
def _not_a_bool(x):
    return x[0]


def _python_exit(x):
    return abs(x[0]) > 0.95


@numba.njit
def _uncompilable(x):
    return undefined_name(x)  # noqa: F821


@numba.njit
def _allocating(x):
    y = np.abs(x)
    return y[0] > 0.95


@pytest.mark.parametrize(
    "exit_test,backend,error,match",
    [
        ("far", "cpu", TypeError, "exit must be a function"),
        (_python_exit, "cpu", TypeError, "exit must be a numba.njit function"),
        (_not_a_bool, "numpy", TypeError, "must return a bool"),
        (_uncompilable, "cpu", TypeError, "exit\\(x\\) must take one point"),
        (_allocating, "cpu", TypeError, "exit does not compile for the kernels"),
    ],
)
def test_bad_exit_tests_are_refused_naming_exit(exit_test, backend, error, match):
    with pytest.raises(error, match=match):
        simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.0], [1.0], paths=64, exit=exit_test, backend=backend,
                 progress=False)


def test_a_start_outside_the_region_is_refused():
    with pytest.raises(ValueError, match="exit\\(x0\\) is True"):
        simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.99], [1.0], paths=64, exit=beyond_095, progress=False)


def test_a_python_exit_test_runs_on_numpy():
    a = simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.0], [2.0, 5.0], paths=300, seed=1, exit=_python_exit,
                 backend="numpy", progress=False)
    b = simulate(tilted([1.0, -1.0]), SGD(0.1, 1), [0.0], [2.0, 5.0], paths=300, seed=1, exit=beyond_095,
                 backend="cpu", progress=False)
    np.testing.assert_array_equal(a.exited, b.exited)
