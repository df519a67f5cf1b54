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


def test_exact_refuses_momentum_with_a_clear_message():
    model = tiny_regression(n=6, d=2)
    with pytest.raises(ValueError, match="momentum"):
        toylab.exact.moments(model, SGD(0.1, 2, momentum=0.5), [1.0, 0.0], [0.1])
