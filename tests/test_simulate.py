"""Both simulator backends against exact moments, and their guarantees."""

import warnings

import numpy as np
import pytest

from toylab import (
    GD,
    NGD,
    SDE,
    SGD,
    SVAG,
    Ensemble,
    EulerMaruyama,
    LinearRegression,
    NoisyQuadratic,
    SphereRegression,
    exact,
    simulate,
)
from numba import njit

from toylab._progress import Progress

from .conftest import tiny_regression

X0 = np.array([1.0, -0.5, 0.8])
BACKENDS = ["numpy", "cpu"]

ALGS = [
    SGD(0.1, 2),
    SGD(0.1, 3, weight_decay=0.2, sampler="without_replacement"),
    SGD(0.1, 2, sampler="reshuffle"),
    SVAG(0.1, 2, 4),
    SVAG(0.1, 2, 2, weight_decay=0.1, sampler="without_replacement"),
    NGD(0.1, 2),
    NGD(0.1, 3, sampler="without_replacement"),
    EulerMaruyama(0.1, 2, 0.05, weight_decay=0.1),
]


def assert_within_4_stderr(ens, mom):
    for name in ("sq_norm", "loss", "grad_sq_norm", "noise_trace"):
        diff, se = (ens.mean(name) - mom.mean(name))[1:], ens.stderr(name)[1:]
        if np.all(se <= 1e-12 * np.abs(mom.mean(name)[1:])):  # constant: NoisyQuadratic's noise_trace
            np.testing.assert_allclose(diff, 0, atol=1e-12 * abs(mom.mean(name)).max())
        else:
            assert np.all(np.abs(diff) < 4 * se), (name, diff / se)
    # at t = 0 every path is at x0: exact
    np.testing.assert_allclose(ens.mean("loss")[0], mom.mean("loss")[0], rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", ALGS, ids=lambda a: f"{type(a).__name__}-{a.sampler}")
def test_simulator_matches_exact_moments_linear_regression(regression, alg, backend):
    times = [0.0, 0.2, 1.0]
    ens = simulate(regression, alg, X0, times, paths=4000, seed=1, progress=False, backend=backend)
    assert_within_4_stderr(ens, exact.moments(regression, alg, X0, times))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", [a for a in ALGS if isinstance(a, (NGD, EulerMaruyama))],
                         ids=lambda a: f"{type(a).__name__}-{a.sampler}")
@pytest.mark.parametrize("cls", [LinearRegression, SphereRegression], ids=lambda c: c.__name__)
def test_noise_from_the_moment_factor_matches_the_per_sample_noise(cls, alg, backend):
    # n = 40 > m = 9 features: "auto" draws the noise from the moment factor
    model = tiny_regression(n=40, d=3, seed=4, cls=cls)
    assert model.noise_method == "moments" and model.noise_dim == 9
    times = [0.0, 0.2, 1.0]
    ens = simulate(model, alg, X0, times, paths=4000, seed=1, progress=False, backend=backend)
    if cls is LinearRegression:
        assert_within_4_stderr(ens, exact.moments(model, alg, X0, times))
    else:
        # no exact moments on the sphere: against the per-sample construction, 4 combined s.e.
        ref = cls(model.A, model.y, noise="per_sample")
        other = simulate(ref, alg, X0, times, paths=4000, seed=2, progress=False, backend=backend)
        for name in ("sq_norm", "loss", "grad_sq_norm", "noise_trace"):
            diff = (ens.mean(name) - other.mean(name))[1:]
            se = np.hypot(ens.stderr(name), other.stderr(name))[1:]
            assert np.all(np.abs(diff) < 4 * se), (name, diff / se)


def test_noise_method_auto_and_bad_values():
    assert tiny_regression(n=8, d=3).noise_method == "per_sample"
    assert tiny_regression(n=8, d=3).noise_dim == 8
    assert tiny_regression(n=500, d=10).noise_method == "moments"
    # m = 2144 features at d = 64: never the moments under "auto"
    assert tiny_regression(n=100_000, d=64).noise_method == "per_sample"
    for bad in ("exact", 3, None):
        with pytest.raises(ValueError, match="noise must be one of"):
            tiny_regression(n=8, d=3, cls=lambda A, y: LinearRegression(A, y, noise=bad))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", [a for a in ALGS if a.sampler == "with_replacement"], ids=lambda a: type(a).__name__)
def test_simulator_matches_exact_moments_population_models(gaussian, quadratic, alg, backend):
    times = [0.0, 0.2, 1.0]
    for model in (gaussian, quadratic):
        ens = simulate(model, alg, X0, times, paths=4000, seed=2, progress=False, backend=backend)
        assert_within_4_stderr(ens, exact.moments(model, alg, X0, times))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gd_is_deterministic_and_exact(regression, backend):
    ens = simulate(regression, GD(0.1, weight_decay=0.1), X0, [0.0, 0.5, 1.0], paths=70, progress=False, backend=backend)
    mom = exact.moments(regression, GD(0.1, weight_decay=0.1), X0, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ens.mean("loss"), mom.mean("loss"), rtol=1e-12)
    np.testing.assert_allclose(ens.stderr("loss"), 0, atol=1e-14)
    assert "noise_trace" not in ens.observables


@njit
def first_coordinate(x):
    return x[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_observable_matches_exact_first_moment(regression, backend):
    alg = SVAG(0.1, 2, 2)
    obs = {"x0": first_coordinate}
    ens = simulate(regression, alg, X0, [0.5], paths=3000, seed=3, progress=False, observables=obs, backend=backend)
    exact_first = exact.moments(regression, alg, X0, [0.5]).first[0, 0]
    assert abs(ens.mean("x0")[0] - exact_first) < 4 * ens.stderr("x0")[0]


@njit
def mixed_coordinates(x):
    return x[0] + 3 * x[1] - x[2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sampler", ["with_replacement", "without_replacement", "reshuffle"])
def test_svag_with_l_one_is_sgd_path_by_path(regression, gaussian, sampler, backend):
    for model in (regression, gaussian):
        if sampler not in model.samplers:
            continue
        kw = dict(paths=130, seed=4, progress=False, observables={"x": mixed_coordinates}, backend=backend)
        a = simulate(model, SGD(0.1, 2, sampler=sampler, weight_decay=0.1), X0, [0.3, 1.0], **kw)
        b = simulate(model, SVAG(0.1, 2, 1, sampler=sampler, weight_decay=0.1), X0, [0.3, 1.0], **kw)
        np.testing.assert_array_equal(a._mean, b._mean)
        np.testing.assert_array_equal(a._m2, b._m2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", [SGD(0.1, 2, sampler="reshuffle"), NGD(0.1, 2), SVAG(0.1, 2, 3, sampler="without_replacement")])
def test_results_do_not_depend_on_chunk_size(regression, alg, backend):
    runs = [
        simulate(regression, alg, X0, [0.2, 0.5], paths=300, seed=5, progress=False, chunk_size=c, backend=backend)
        for c in (1, 64, 100, 1000)
    ]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0]._mean, other._mean)
        np.testing.assert_array_equal(runs[0]._m2, other._m2)
        np.testing.assert_array_equal(runs[0].count, other.count)


def test_block_statistics_merge_to_those_of_all_paths():
    """Per-block (count, mean, M2) merged in block order (``Accumulator``,
    compiled in ``kernels.stats``) against the count, mean and centred sum
    of squares of all the live values at once, and the same bits whatever
    chunks the blocks arrive in."""
    from toylab._stats import Accumulator, block_stats

    rng = np.random.default_rng(11)
    P, R, O = 1000, 3, 4
    # values far from 0 (the update's cancellation shows there), a spread per
    # record time; some paths dead, all of them at record time 2
    values = 1e3 + rng.normal(size=(R, P, O)) * np.array([1.0, 1e-3, 10.0])[:, None, None]
    alive = rng.random((R, P)) > 0.3
    alive[2] = False
    per_record = [block_stats(values[r], alive[r]) for r in range(R)]
    count = np.stack([st[0] for st in per_record], axis=1)
    mean = np.stack([st[1] for st in per_record], axis=1)
    m2 = np.stack([st[2] for st in per_record], axis=1)
    runs = []
    for cuts in ([], [1], [3, 4, 10], list(range(1, len(count)))):
        acc = Accumulator(R, O)
        for lo, hi in zip([0, *cuts], [*cuts, len(count)]):
            acc.add_blocks(count[lo:hi], mean[lo:hi], m2[lo:hi])
        runs.append(acc)
    for acc in runs[1:]:
        for name in ("count", "mean", "m2"):
            np.testing.assert_array_equal(getattr(acc, name), getattr(runs[0], name))
    acc = runs[0]
    np.testing.assert_array_equal(acc.count, alive.sum(axis=1))
    for r in range(2):
        live = values[r][alive[r]]
        np.testing.assert_allclose(acc.mean[r], live.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(acc.m2[r], ((live - live.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-10)
    np.testing.assert_array_equal(acc.mean[2], 0.0)
    np.testing.assert_array_equal(acc.m2[2], 0.0)


def test_seed_changes_the_result(regression):
    a = simulate(regression, SGD(0.1, 2), X0, [0.5], paths=64, seed=1, progress=False)
    b = simulate(regression, SGD(0.1, 2), X0, [0.5], paths=64, seed=2, progress=False)
    assert not np.array_equal(a._mean, b._mean)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sphere_regression_runs_and_weight_decay_shrinks_the_norm(backend):
    rng = np.random.default_rng(0)
    model = SphereRegression(rng.normal(size=(10, 3)), np.zeros(10))
    ens = simulate(model, SGD(0.1, 2, weight_decay=0.5), X0, [0.0, 1.0, 3.0], paths=200, progress=False, backend=backend)
    assert ens.mean("sq_norm")[2] < ens.mean("sq_norm")[0]
    assert np.all(ens.count == 200)


@pytest.mark.parametrize("backend", BACKENDS)
def test_diverging_paths_are_counted_not_averaged(backend):
    # one outlier row: a path that draws it often enough blows up, the rest do not
    A = np.ones((10, 1))
    A[0, 0] = 1000.0
    model = LinearRegression(A, np.zeros(10))
    with pytest.warns(RuntimeWarning, match="paths diverged"):
        ens = simulate(model, SGD(0.05, 1), [1.0], [0.0, 2.5, 5.0], paths=256, seed=0, progress=False, backend=backend)
    assert np.all(ens.count + ens.diverged == 256)
    assert ens.diverged[0] == 0
    assert 0 < ens.diverged[-1] < 256
    assert np.all(np.diff(ens.diverged) >= 0)
    assert np.all(np.isfinite(ens.mean("sq_norm")))
    assert "diverged" in repr(ens)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_paths_diverging(backend):
    model = NoisyQuadratic(np.eye(2), np.eye(2))
    with pytest.warns(RuntimeWarning, match="64 of 64 paths diverged"):
        ens = simulate(model, GD(3.0), [1.0, 1.0], [600.0], paths=64, progress=False, backend=backend)
    assert ens.diverged[-1] == 64 and ens.count[-1] == 0
    assert np.isnan(ens.mean("loss")[-1])
    assert ens.diverged_fraction[-1] == 1.0


def test_no_warning_without_divergence(regression):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulate(regression, SGD(0.1, 2), X0, [0.5], paths=10, progress=False)


def test_ensemble_saves_and_loads_losslessly(tmp_path, regression):
    ens = simulate(regression, SVAG(0.1, 2, 2), X0, [0.0, 0.5], paths=100, seed=9, progress=False)
    ens.save(tmp_path / "e.npz")
    back = Ensemble.load(tmp_path / "e.npz")
    for name in ens.observables:
        np.testing.assert_array_equal(back.mean(name), ens.mean(name))
        np.testing.assert_array_equal(back.stderr(name), ens.stderr(name))
    assert back.config == ens.config and back.versions == ens.versions
    assert back.config["seed"] == 9 and back.config["algorithm"]["l"] == 2.0
    assert back.observables == ens.observables and back.paths == 100
    np.testing.assert_array_equal(back.diverged, ens.diverged)


def test_progress_bar_writes_when_enabled():
    import io

    out = io.StringIO()
    with Progress(100, delay=0.0, stream=out, label="run") as bar:
        bar.update(100)
    assert "run: 100.0%" in out.getvalue()
    out = io.StringIO()
    with Progress(100, enabled=False, delay=0.0, stream=out) as bar:
        bar.update(100)
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(algorithm=SDE(0.1, 2)), ValueError, "use EulerMaruyama"),
        (dict(times=[0.1, 0.25]), ValueError, r"times\[1\]=0.25 is not a whole number of steps of size 0.1"),
        (dict(times=[-0.1]), ValueError, "times must be >= 0"),
        (dict(times=[]), ValueError, "times must contain at least one time"),
        (dict(paths=0), ValueError, "paths must be >= 1"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(seed=2**64), ValueError, "seed must be < 2\\*\\*64"),
        (dict(seed=1.5), TypeError, "seed must be an integer"),
        (dict(backend="fortran"), ValueError, "backend must be one of"),
        (dict(x0=np.ones(2)), ValueError, "x0 must have shape"),
        (dict(x0=[np.nan, 0, 0]), ValueError, "x0 contains NaN"),
        (dict(observables={"f": 3}), TypeError, r"observables\['f'\] must be callable"),
        (dict(observables={"loss": abs}), ValueError, "observables: name 'loss'"),
        (dict(observables={"f": abs}), TypeError, r"observables\['f'\] must be a numba.njit function of x for backend='cpu'"),
        (dict(algorithm=SGD(0.1, 9, sampler="without_replacement")), ValueError, "algorithm.batch_size=9 exceeds"),
        (dict(model="model"), TypeError, "model must be a toylab model"),
        (dict(chunk_size=0), ValueError, "chunk_size must be >= 1"),
    ],
)
def test_bad_simulate_input(regression, kwargs, exc, match):
    args = dict(model=regression, algorithm=SGD(0.1, 2), x0=X0, times=[0.1, 0.2])
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        simulate(args.pop("model"), args.pop("algorithm"), args.pop("x0"), args.pop("times"), progress=False, **args)


def test_zero_start_refused_for_scale_invariant_model(regression):
    with pytest.raises(ValueError, match="x0 must be nonzero"):
        simulate(SphereRegression(regression.A, regression.y), SGD(0.1, 2), np.zeros(3), [0.1], progress=False)


# ---------------------------------------------------------------------------
# test functions of higher order: exact one-step values, and the non-Gaussian gap


def _gaussian_norm4(m, S):
    """E|y|^4 for y ~ N(m, S): (|m|^2 + tr S)^2 + 2 tr(S^2) + 4 m^T S m."""
    return (m @ m + np.trace(S)) ** 2 + 2 * np.trace(S @ S) + 4 * m @ S @ m


def _gaussian_bump(m, S):
    """E exp(-|y|^2/2) for y ~ N(m, S): det(I + S)^(-1/2) exp(-m^T (I + S)^-1 m / 2)."""
    K = np.eye(len(m)) + S
    return np.linalg.det(K) ** -0.5 * np.exp(-0.5 * m @ np.linalg.solve(K, m))


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_higher_order_observables_see_the_non_gaussian_gap(backend):
    """One step from x0: SGD's E|x1|^4 and E exp(-|x1|^2/2) by enumeration of the n^B batches, NGD's
    by the Gaussian closed forms.  Both differ (the non-Gaussian gap), although E x1 and E x1 x1^T
    agree exactly; the simulated means match their own exact values within 4 standard errors."""
    from itertools import product

    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 2))
    model = LinearRegression(A, A @ np.array([1.0, -1.0]) + rng.normal(size=4))
    lr, B, wd, x0 = 0.6, 2, 0.1, np.array([0.5, 1.5])
    batches = np.array(list(product(range(4), repeat=B)))
    x1 = np.array([x0 - lr * (model.batch_grad(x0, idx) + wd * x0) for idx in batches])
    sq = np.sum(x1 * x1, axis=1)
    exact_sgd = {"norm4": np.mean(sq**2), "gauss_bump": np.mean(np.exp(-0.5 * sq)), "sq_norm": np.mean(sq)}
    m, S = x0 - lr * (model.grad(x0) + wd * x0), lr**2 * model.noise_cov(x0, B)
    exact_ngd = {"norm4": _gaussian_norm4(m, S), "gauss_bump": _gaussian_bump(m, S), "sq_norm": m @ m + np.trace(S)}
    paths = 40_000
    sgd = simulate(model, SGD(lr, B, weight_decay=wd), x0, [0, lr], paths=paths, seed=5, backend=backend,
                   progress=False)
    ngd = simulate(model, NGD(lr, B, weight_decay=wd), x0, [0, lr], paths=paths, seed=6, backend=backend,
                   progress=False)
    for name in ("norm4", "gauss_bump", "sq_norm"):
        for ens, exact_value in ((sgd, exact_sgd[name]), (ngd, exact_ngd[name])):
            assert abs(ens.mean(name)[1] - exact_value) < 4 * ens.stderr(name)[1], (name, ens.config["algorithm"])
        se = np.hypot(sgd.stderr(name)[1], ngd.stderr(name)[1])
        if name == "sq_norm":  # equal second moments: no gap
            assert exact_sgd[name] == pytest.approx(exact_ngd[name], rel=1e-12)
        else:  # a gap the simulation resolves
            assert abs(exact_sgd[name] - exact_ngd[name]) > 8 * se, name
            assert abs(sgd.mean(name)[1] - ngd.mean(name)[1]) > 4 * se, name
    # at t = 0 every path is at x0
    assert sgd.mean("norm4")[0] == pytest.approx((x0 @ x0) ** 2, rel=1e-14)
    assert sgd.mean("gauss_bump")[0] == pytest.approx(np.exp(-0.5 * x0 @ x0), rel=1e-14)
