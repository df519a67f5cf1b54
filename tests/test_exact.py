"""Exact moments against enumeration, Lyapunov equations and convergence rates."""

import itertools

import numpy as np
import pytest
import scipy.linalg

from toylab import GD, NGD, SDE, SGD, SVAG, EulerMaruyama, LinearRegression, NoisyQuadratic, SphereRegression, exact

from .conftest import tiny_regression

X0 = np.array([1.0, -0.5])


def batches(n, B, sampler):
    if sampler == "with_replacement":
        return np.array(list(itertools.product(range(n), repeat=B)))
    return np.array(list(itertools.combinations(range(n), B)))


def enumerate_markov(model, alg, x0, steps):
    """Every equally likely batch sequence, enumerated: returns (E x, E x x^T)."""
    bs = batches(model.n_samples, alg.batch_size, alg.sampler)
    X = x0[None, :]
    for _ in range(steps):
        if isinstance(alg, SGD):
            idx = np.repeat(bs[None], len(X), axis=0).reshape(-1, alg.batch_size)
            Xr = np.repeat(X, len(bs), axis=0)
            X = Xr - alg.lr * (model.batch_grad(Xr, idx) + alg.weight_decay * Xr)
        else:  # SVAG: both batches enumerated independently
            pairs = np.array(list(itertools.product(range(len(bs)), repeat=2)))
            Xr = np.repeat(X, len(pairs), axis=0)
            i1 = np.tile(bs[pairs[:, 0]], (len(X), 1))
            i2 = np.tile(bs[pairs[:, 1]], (len(X), 1))
            c1, c2 = alg.coefficients
            g = c1 * model.batch_grad(Xr, i1) + c2 * model.batch_grad(Xr, i2)
            X = Xr - alg.step_time * (g + alg.weight_decay * Xr)
    return X.mean(axis=0), np.einsum("ki,kj->ij", X, X) / len(X)


@pytest.mark.parametrize("sampler", ["with_replacement", "without_replacement"])
@pytest.mark.parametrize(
    "alg",
    [
        lambda s: SGD(0.3, 2, sampler=s),
        lambda s: SGD(0.2, 3, weight_decay=0.1, sampler=s),
        lambda s: SVAG(0.3, 2, 3.0, sampler=s),
        lambda s: SVAG(0.3, 1, 1.7, weight_decay=0.2, sampler=s),
    ],
)
def test_moment_map_equals_enumeration(alg, sampler):
    model = tiny_regression(n=4, d=2, seed=1)
    alg = alg(sampler)
    steps = 2
    m1, m2 = enumerate_markov(model, alg, X0, steps)
    mom = exact.moments(model, alg, X0, [steps * alg.step_time])
    np.testing.assert_allclose(mom.first[0], m1, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(mom.second[0], m2, rtol=1e-11, atol=1e-13)


def reshuffle_sequences(n, B, steps, streams):
    """All permutation sequences (one per epoch per stream), equally likely."""
    per_epoch = n // B
    epochs = -(-steps // per_epoch)
    perms = list(itertools.permutations(range(n)))
    seqs = np.array(list(itertools.product(perms, repeat=epochs * streams)))
    return seqs.reshape(len(seqs), streams, epochs, n), per_epoch


@pytest.mark.parametrize("n,B,steps,alg", [
    (5, 2, 3, SGD(0.3, 2, weight_decay=0.1, sampler="reshuffle")),
    (4, 2, 3, SGD(0.3, 2, sampler="reshuffle")),
    (4, 2, 3, SVAG(0.3, 2, 2.5, sampler="reshuffle")),
])
def test_reshuffle_moments_equal_enumeration_over_permutations(n, B, steps, alg):
    model = tiny_regression(n=n, d=2, seed=2)
    seqs, per_epoch = reshuffle_sequences(n, B, steps, alg.n_batches)
    X = np.tile(X0, (len(seqs), 1))
    weights = alg.coefficients if isinstance(alg, SVAG) else (1.0,)
    for k in range(steps):
        e, pos = divmod(k, per_epoch)
        g = sum(w * model.batch_grad(X, seqs[:, j, e, pos * B : (pos + 1) * B]) for j, w in enumerate(weights))
        X = X - alg.step_time * (g + alg.weight_decay * X)
    mom = exact.moments(model, alg, X0, [steps * alg.step_time])
    np.testing.assert_allclose(mom.first[0], X.mean(axis=0), rtol=1e-11)
    np.testing.assert_allclose(mom.second[0], X.T @ X / len(X), rtol=1e-11)


@pytest.mark.parametrize("alg", [NGD(0.2, 2), EulerMaruyama(0.2, 2, 0.05), NGD(0.2, 3, sampler="without_replacement", weight_decay=0.3), GD(0.2, weight_decay=0.1)])
def test_gaussian_noise_one_step_moments(alg, regression, gaussian, quadratic):
    for model in (regression, gaussian, quadratic):
        if getattr(alg, "sampler", "with_replacement") not in model.samplers:
            continue
        x0 = np.array([0.3, -1.0, 0.8])
        s, _ = alg.moment_coefficients
        mean = x0 - s * (model.grad(x0) + alg.weight_decay * x0)
        if isinstance(alg, GD):
            cov = np.zeros((3, 3))
        else:
            scale = alg.lr**2 if isinstance(alg, NGD) else alg.dt * alg.lr
            cov = scale * model.noise_cov(x0, alg.batch_size, alg.sampler)
        mom = exact.moments(model, alg, x0, [alg.step_time])
        np.testing.assert_allclose(mom.first[0], mean, rtol=1e-13)
        np.testing.assert_allclose(mom.second[0], np.outer(mean, mean) + cov, rtol=1e-12, atol=1e-15)


def test_expected_sigma1_is_the_mixture_average(regression, gaussian, quadratic):
    rng = np.random.default_rng(5)
    for model in (regression, gaussian, quadratic):
        pts = rng.normal(size=(7, 3))
        w = rng.dirichlet(np.ones(7))
        m1 = (w[:, None] * pts).sum(0)[None]
        m2 = np.einsum("k,ki,kj->ij", w, pts, pts)[None]
        expected = np.einsum("k,kij->ij", w, model.sigma1(pts))
        np.testing.assert_allclose(model.expected_sigma1(np.ones(1), m1, m2)[0], expected, rtol=1e-12, atol=1e-14)


def test_identities_between_algorithms(regression):
    times = [0.0, 0.4, 1.2]
    sgd = exact.moments(regression, SGD(0.2, 2, weight_decay=0.1), X0.tolist() + [0.3], times)
    ngd = exact.moments(regression, NGD(0.2, 2, weight_decay=0.1), X0.tolist() + [0.3], times)
    svag1 = exact.moments(regression, SVAG(0.2, 2, 1, weight_decay=0.1), X0.tolist() + [0.3], times)
    np.testing.assert_allclose(sgd.first, ngd.first, rtol=1e-13)
    np.testing.assert_allclose(sgd.second, ngd.second, rtol=1e-13)
    np.testing.assert_array_equal(sgd.second, svag1.second)
    svag = exact.moments(regression, SVAG(0.2, 2, 4), X0.tolist() + [0.3], times)
    em = exact.moments(regression, EulerMaruyama(0.2, 2, 0.05), X0.tolist() + [0.3], times)
    np.testing.assert_allclose(svag.second, em.second, rtol=1e-12)


def test_euler_maruyama_converges_to_the_sde_at_rate_dt(regression):
    x0 = np.array([1.0, -1.0, 0.5])
    T = 1.0
    sde = exact.moments(regression, SDE(0.2, 2, weight_decay=0.1), x0, [T]).mean("sq_norm")[0]
    errs = []
    for k in range(3, 9):
        dt = T / 2**k
        em = exact.moments(regression, EulerMaruyama(0.2, 2, dt, weight_decay=0.1), x0, [T]).mean("sq_norm")[0]
        errs.append(abs(em - sde))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    # error = C dt + O(dt^2): halving dt halves the error, ever more exactly
    assert np.all(np.abs(ratios - 2) < 0.1)
    assert abs(ratios[-1] - 2) < 0.01
    assert np.all(np.diff(np.abs(ratios - 2)) < 0)


def test_svag_weak_error_is_order_one_over_l():
    from toylab.experiments import exact_weak_error

    model = tiny_regression(n=16, d=3, seed=4)
    res = exact_weak_error(model, 0.1, 2, 2.0 ** np.arange(8), [0.5, 1.0], x0=np.ones(3))
    assert np.all(np.abs(res.ratios[2:] - 2) < 0.05)
    assert abs(res.ratios[-1] - 2) < 0.01
    assert abs(res.slope() + 1) < 0.01
    # l * error converges: successive changes shrink
    assert np.all(np.abs(np.diff(np.diff(res.scaled)[2:])) >= 0)
    assert abs(res.scaled[-1] / res.scaled[-2] - 1) < 0.01


@pytest.mark.parametrize(
    "alg,A,Q",
    [
        (SGD(0.1, 4, weight_decay=0.1), lambda H: np.eye(3) - 0.1 * (H + 0.1 * np.eye(3)), 0.01 / 4),
        (SVAG(0.1, 4, 4.0), lambda H: np.eye(3) - 0.025 * H, 0.01 / 4 / 4),
        (NGD(0.3, 2), lambda H: np.eye(3) - 0.3 * H, 0.09 / 2),
        (EulerMaruyama(0.3, 2, 0.01, weight_decay=0.2), lambda H: np.eye(3) - 0.01 * (H + 0.2 * np.eye(3)), 0.003 / 2),
    ],
)
def test_stationary_noisy_quadratic_solves_discrete_lyapunov(quadratic, alg, A, Q):
    st = exact.stationary(quadratic, alg)
    expected = scipy.linalg.solve_discrete_lyapunov(A(quadratic.H), Q * quadratic.C)
    np.testing.assert_allclose(st.first, 0, atol=1e-14)
    np.testing.assert_allclose(st.cov, expected, rtol=1e-10)


def test_stationary_sde_solves_continuous_lyapunov(quadratic):
    st = exact.stationary(quadratic, SDE(0.2, 4, weight_decay=0.05))
    K = quadratic.H + 0.05 * np.eye(3)
    expected = scipy.linalg.solve_continuous_lyapunov(-K, -0.2 / 4 * quadratic.C)
    np.testing.assert_allclose(st.cov, expected, rtol=1e-10)


@pytest.mark.parametrize("alg,T", [(SGD(0.1, 2, weight_decay=0.05), 200.0), (SDE(0.1, 2, weight_decay=0.05), 200.0)])
def test_stationary_is_the_long_time_limit(regression, gaussian, alg, T):
    for model in (regression, gaussian):
        st = exact.stationary(model, alg)
        mom = exact.moments(model, alg, np.array([1.0, 2.0, -1.0]), [T])
        np.testing.assert_allclose(mom.first[0], st.first, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mom.second[0], st.second, rtol=1e-9, atol=1e-12)
        assert st.mean("loss") == pytest.approx(mom.mean("loss")[0], rel=1e-9)


def test_quadratic_means_match_the_models(regression, gaussian, quadratic):
    x0 = np.array([0.4, -0.3, 1.1])
    for model in (regression, gaussian, quadratic):
        alg = SGD(0.1, 3)
        mom = exact.moments(model, alg, x0, [0.0])
        assert mom.mean("sq_norm")[0] == pytest.approx(x0 @ x0, rel=1e-13)
        assert mom.mean("loss")[0] == pytest.approx(model.loss(x0), rel=1e-12)
        assert mom.mean("grad_sq_norm")[0] == pytest.approx(np.sum(model.grad(x0) ** 2), rel=1e-12)
        assert mom.mean("noise_trace")[0] == pytest.approx(model.noise_trace(x0, 3), rel=1e-12)


# ---- errors ----------------------------------------------------------------


def test_exact_refuses_what_has_no_exact_moments(regression):
    sphere = SphereRegression(regression.A, regression.y)
    with pytest.raises(ValueError, match="model SphereRegression has no exact moments"):
        exact.moments(sphere, SGD(0.1, 2), np.ones(3), [1.0])
    with pytest.raises(TypeError, match="algorithm must be a toylab algorithm"):
        exact.moments(regression, "sgd", np.ones(3), [1.0])
    with pytest.raises(ValueError, match=r"times\[1\]=0.15 is not a whole number of steps of size 0.1"):
        exact.moments(regression, SGD(0.1, 2), np.ones(3), [0.1, 0.15])
    with pytest.raises(ValueError, match="times must be strictly increasing"):
        exact.moments(regression, SGD(0.1, 2), np.ones(3), [0.2, 0.1])
    with pytest.raises(ValueError, match="x0 must have shape"):
        exact.moments(regression, SGD(0.1, 2), np.ones(2), [0.1])
    with pytest.raises(ValueError, match="name must be one of"):
        exact.moments(regression, SGD(0.1, 2), np.ones(3), [0.1]).mean("energy")


def test_stationary_errors(quadratic, regression):
    with pytest.raises(ValueError, match="spectral radius"):
        exact.stationary(quadratic, SGD(1.5, 2))
    flat = NoisyQuadratic(np.diag([1.0, 0.0]), np.eye(2))
    with pytest.raises(ValueError, match="no stationary moments"):
        exact.stationary(flat, SDE(0.1, 2))
    with pytest.raises(ValueError, match="no per-step stationary moments"):
        exact.stationary(regression, SGD(0.1, 2, sampler="reshuffle"))


def test_reshuffle_state_space_limit():
    big = tiny_regression(n=40, d=3)
    with pytest.raises(ValueError, match="beyond the limit"):
        exact.moments(big, SGD(0.1, 2, sampler="reshuffle"), np.ones(3), [0.1])


def test_population_models_refuse_finite_samplers(gaussian):
    with pytest.raises(ValueError, match="needs a finite data set"):
        exact.moments(gaussian, SGD(0.1, 2, sampler="without_replacement"), np.ones(3), [0.1])
