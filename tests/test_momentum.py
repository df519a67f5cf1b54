"""Heavy-ball momentum on SGD and NGD: b <- mu b + g, x <- x - lr b (torch.optim.SGD, no dampening).

CUDA runs on Numba's simulator here (conftest).
"""

import numpy as np
import pytest

import toylab
from toylab import NGD, SGD, SVAG, NoisyQuadratic, simulate
from toylab import _fast

from .conftest import tiny_regression


def heavy_ball_moments(h, c, lr, mu, B, steps):
    """E x^2 after each of ``steps`` steps of heavy ball on L = h x^2 / 2 with
    additive gradient noise of variance c / B, from x = b = 0: the exact
    second-moment map of z = (x, b), z' = A z + w (module docstring), with
    A = [[1 - lr h, -lr mu], [h, mu]] and w = (-lr, 1) xi, xi ~ N(0, c/B)."""
    A = np.array([[1.0 - lr * h, -lr * mu], [h, mu]])
    Q = (c / B) * np.array([[lr * lr, -lr], [-lr, 1.0]])
    M = np.zeros((2, 2))
    out = []
    for _ in range(steps):
        M = A @ M @ A.T + Q
        out.append(M[0, 0])
    return np.array(out)


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_sgd_matches_the_exact_second_moment(mu):
    """E |x|^2 of momentum SGD on a 1-D NoisyQuadratic within 4 standard errors
    of the exact moment map of (x, b), before and at stationarity."""
    h, c, lr, B = 1.5, 0.4, 0.05, 2
    model = NoisyQuadratic([[h]], [[c]])
    alg = SGD(lr, B, momentum=mu)
    steps = [5, 40, 400]
    exact = heavy_ball_moments(h, c, lr, mu, B, max(steps))[np.array(steps) - 1]
    ens = simulate(model, alg, [0.0], [k * alg.step_time for k in steps], paths=20_000, seed=3, progress=False)
    gap = np.abs(ens.mean("sq_norm") - exact)
    assert np.all(gap < 4 * ens.stderr("sq_norm")), gap / ens.stderr("sq_norm")
    # and momentum changes it: plain SGD's stationary E x^2 is another number
    plain = heavy_ball_moments(h, c, lr, 0.0, B, 400)[-1]
    assert abs(exact[-1] - plain) > 20 * ens.stderr("sq_norm")[-1]


@pytest.mark.parametrize(
    "alg",
    [
        SGD(0.05, 2, momentum=0.7, weight_decay=0.1),
        SGD(0.05, 2, momentum=0.7, sampler="reshuffle"),
        SGD(0.05, 3, momentum=0.3, sampler="without_replacement"),
        NGD(0.05, 2, momentum=0.6, weight_decay=0.1),
    ],
    ids=lambda a: f"{type(a).__name__}-{a.sampler}",
)
def test_momentum_agrees_on_every_backend(alg):
    """With one seed, numpy, cpu (the general engine: momentum carries state)
    and cuda agree to rounding; the velocity starts at zero on every path."""
    model = tiny_regression(n=8, d=3, seed=2)
    assert _fast.choose(model, alg) is None
    x0 = np.array([0.5, -1.0, 0.3])
    times = [0.0, 5 * alg.step_time, 12 * alg.step_time]
    runs = {b: simulate(model, alg, x0, times, paths=70, seed=4, backend=b, progress=False)
            for b in ("numpy", "cpu", "cuda")}
    for b in ("cpu", "cuda"):
        for name in ("loss", "sq_norm", "grad_sq_norm"):
            np.testing.assert_allclose(runs[b].mean(name), runs["numpy"].mean(name), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
@pytest.mark.parametrize("cls", [SGD, NGD])
def test_momentum_zero_is_the_algorithm_without_it(backend, cls):
    """momentum=0 is today's SGD (and NGD) bit for bit, path by path; a small
    momentum is not."""
    model = tiny_regression(n=8, d=3, seed=1)
    x0 = np.array([0.5, -1.0, 0.3])
    times = [0.1, 0.5]
    kw = dict(paths=70, seed=5, backend=backend, progress=False)
    plain = simulate(model, cls(0.05, 2), x0, times, **kw)
    zero = simulate(model, cls(0.05, 2, momentum=0.0), x0, times, **kw)
    np.testing.assert_array_equal(zero._mean, plain._mean)
    np.testing.assert_array_equal(zero._m2, plain._m2)
    assert cls(0.05, 2, momentum=0.0).step_time == cls(0.05, 2).step_time == 0.05
    small = cls(0.05, 2, momentum=0.1)
    moved = simulate(model, small, x0, [2 * small.step_time, 10 * small.step_time], **kw)
    assert not np.array_equal(moved._mean, plain._mean)


def test_a_step_is_the_effective_learning_rate_of_sde_time():
    """Heavy ball drifts as SGD at lr/(1 - mu): a step is that much SDE time."""
    assert SGD(0.1, 2, momentum=0.75).step_time == pytest.approx(0.4)
    assert NGD(0.1, 2, momentum=0.5).step_time == pytest.approx(0.2)
    assert SGD(0.1, 2, momentum=0.5).state_vectors == 1 and SGD(0.1, 2).state_vectors == 0


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: SGD(0.1, 2, momentum=1.0), ValueError, "momentum must be in \\[0, 1\\)"),
        (lambda: SGD(0.1, 2, momentum=1.5), ValueError, "momentum must be in \\[0, 1\\)"),
        (lambda: SGD(0.1, 2, momentum=-0.1), ValueError, "momentum"),
        (lambda: NGD(0.1, 2, momentum="a"), TypeError, "momentum"),
        (lambda: SVAG(0.1, 2, 4, momentum=0.5), TypeError, "momentum"),
    ],
)
def test_bad_momentum_names_it(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_exact_refuses_momentum_under_reshuffling_with_a_clear_message():
    model = tiny_regression(n=6, d=2)
    with pytest.raises(ValueError, match="momentum.*reshuffl"):
        toylab.exact.moments(model, SGD(0.1, 2, momentum=0.5, sampler="reshuffle"), [1.0, 0.0], [0.1])


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_exact_moments_with_momentum_are_the_map_of_x_and_b(mu):
    """exact.moments with momentum on a 1-D NoisyQuadratic: the moment map of
    (x, b) written out in this module, to rounding."""
    h, c, lr, B = 1.5, 0.4, 0.05, 2
    alg = SGD(lr, B, momentum=mu)
    steps = np.array([1, 7, 60])
    exact = toylab.exact.moments(NoisyQuadratic([[h]], [[c]]), alg, [0.0], steps * alg.step_time).mean("sq_norm")
    np.testing.assert_allclose(exact, heavy_ball_moments(h, c, lr, mu, B, 60)[steps - 1], rtol=1e-12)


@pytest.mark.parametrize("lr,mu", [(0.05, 0.0), (0.05, 0.5), (0.3, 0.9), (1.2, 0.9)])
def test_closed_form_stationary_variance_per_eigendirection(lr, mu):
    """theory.momentum_stationary_variance along each eigenvector of H, for a C
    that does not commute with H, against exact.stationary's Lyapunov solve to 1e-10."""
    rng = np.random.default_rng(7)
    U = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    h = np.array([0.5, 1.0, 2.0])
    H = U @ np.diag(h) @ U.T
    G = rng.normal(size=(3, 3))
    C = G @ G.T + 0.1 * np.eye(3)
    B = 4
    for alg in (SGD(lr, B, momentum=mu), NGD(lr, B, momentum=mu)):
        S = toylab.exact.stationary(NoisyQuadratic(H, C), alg).cov
        along = np.einsum("ij,jk,ki->i", U.T, S, U)
        c = np.einsum("ij,jk,ki->i", U.T, C, U)
        closed = toylab.theory.momentum_stationary_variance(lr, mu, h, c, B)
        np.testing.assert_allclose(along, closed, rtol=1e-10)


def test_momentum_sits_above_its_sde_by_the_closed_ratio():
    """Against the SDE at lr/(1 - mu): exact stationary variances in the ratio
    1/(1 - lr h/(2(1 + mu))), which tends to 1 as lr -> 0."""
    h, c, B, mu = 1.5, 0.4, 2, 0.8
    model = NoisyQuadratic([[h]], [[c]])
    for lr in (0.5, 0.05, 0.005):
        heavy = toylab.exact.stationary(model, SGD(lr, B, momentum=mu)).cov[0, 0]
        sde = toylab.exact.stationary(model, toylab.SDE(lr / (1 - mu), B)).cov[0, 0]
        assert heavy / sde == pytest.approx(toylab.theory.momentum_sde_ratio(lr, mu, h), rel=1e-10)
    assert toylab.theory.momentum_sde_ratio(0.005, mu, h) == pytest.approx(1.0, abs=3e-3)


@pytest.mark.parametrize("alg", [SGD(0.1, 2, momentum=0.6, weight_decay=0.05),
                                 SGD(0.1, 2, momentum=0.6, sampler="without_replacement"),
                                 NGD(0.1, 2, momentum=0.6)], ids=lambda a: f"{type(a).__name__}-{a.sampler}")
def test_momentum_on_a_data_set_matches_the_exact_moments(alg):
    """Multiplicative noise (LinearRegression): Monte Carlo of momentum SGD and
    NGD within 4 standard errors of exact.moments of (x, b)."""
    model = tiny_regression(n=8, d=3, seed=4)
    x0 = np.array([1.0, -0.5, 0.3])
    times = [alg.step_time * 3, alg.step_time * 15]
    ens = simulate(model, alg, x0, times, paths=20_000, seed=11, progress=False)
    exact = toylab.exact.moments(model, alg, x0, times)
    for name in ("sq_norm", "loss", "grad_sq_norm", "noise_trace"):
        gap = np.abs(ens.mean(name) - exact.mean(name))
        assert np.all(gap < 4 * ens.stderr(name)), (name, gap / ens.stderr(name))
