"""The SDE's exact mean exit time and splitting probability in one dimension (issue: escape, point 2),
against closed forms and an independent boundary-value solve."""

import numpy as np
import pytest

from toylab import SDE, SGD, GaussianLinearRegression, exact
from toylab.models import FiniteSum


def _linear_loss(x, row):
    return row[0] * x[0]


def _linear_grad(x, row, out):
    out[0] = row[0]


def tilted(slopes):
    """A FiniteSum whose per-sample losses c_i x have constant gradients: its SDE is Brownian
    motion with drift -mean(c) and variance lr Var(c)/B per unit time."""
    return FiniteSum(np.asarray(slopes, dtype=float)[:, None], _linear_loss, _linear_grad, 1)


@pytest.mark.parametrize("x0", [-0.7, 0.0, 0.4, 0.99])
def test_brownian_motion(x0):
    model = tilted([1.0, -1.0])  # no drift, Var = 1
    lr, B = 0.3, 2
    var = lr * 1.0 / B
    a, b = -1.0, 1.0
    expected = (x0 - a) * (b - x0) / var
    assert abs(exact.mean_exit_time(model, SDE(lr, B), x0, a, b) - expected) <= 1e-8 * expected
    assert abs(exact.splitting_probability(model, SDE(lr, B), x0, a, b) - (x0 - a) / (b - a)) < 1e-10


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("x0", [-0.5, 0.2, 1.5])
def test_constant_drift(x0, sign):
    """Drift toward either end, strong: 2 |mu| (b - a) / sigma^2 = 93, where the plain
    double-integral formula loses every digit to cancellation."""
    slopes = sign * np.array([0.5, -0.1, 0.2, 0.8])
    model = tilted(slopes)
    lr, B = 0.2, 1
    mu = -np.mean(slopes)
    var = lr * np.var(slopes) / B
    a, b = -1.0, 2.0
    p_b = (1 - np.exp(-2 * mu * (x0 - a) / var)) / (1 - np.exp(-2 * mu * (b - a) / var))
    expected = (p_b * (b - a) - (x0 - a)) / mu
    assert abs(exact.mean_exit_time(model, SDE(lr, B), x0, a, b) - expected) <= 1e-8 * expected
    assert abs(exact.splitting_probability(model, SDE(lr, B), x0, a, b) - p_b) < 1e-10


@pytest.mark.parametrize("x0", [-0.4, 0.1, 0.45])
def test_multiplicative_noise_closed_form(x0):
    """GaussianLinearRegression(h = 1, x* = 0, sigma = 1) at lr = B = 1: drift -x and diffusion
    (x^2 + 1) + x^2 = 2 x^2 + 1, for which T = (x - a)(b - x) solves
    -x T' + (2 x^2 + 1) T''/2 = -1 when a = -b (substitute: -x(a + b - 2x) - (2x^2 + 1) = -1)."""
    model = GaussianLinearRegression([1.0], [0.0], 1.0)
    a, b = -0.5, 0.5
    got = exact.mean_exit_time(model, SDE(1.0, 1), x0, a, b)
    assert abs(got - (x0 - a) * (b - x0)) <= 1e-8 * got


def bvp_exit_time(drift, diffusion, a, b, x0, n):
    """mu T' + sigma^2 T''/2 = -1, T(a) = T(b) = 0 by second-order central differences on n intervals."""
    y = np.linspace(a, b, n + 1)
    h = y[1] - y[0]
    mu, d = drift(y[1:-1]), 0.5 * diffusion(y[1:-1])
    main = -2 * d / h**2
    upper_diag = d / h**2 + mu / (2 * h)
    lower_diag = d / h**2 - mu / (2 * h)
    M = np.diag(main) + np.diag(upper_diag[:-1], 1) + np.diag(lower_diag[1:], -1)
    T = np.concatenate([[0.0], np.linalg.solve(M, -np.ones(n - 1)), [0.0]])
    return np.interp(x0, y, T)


def test_multiplicative_noise_against_a_boundary_value_solve():
    """Online least squares in 1-D: drift -h (x - x*), diffusion lr ((h r^2 + sigma^2) h + h^2 r^2)/B.
    The quadrature against finite differences extrapolated (Richardson) in the grid step."""
    h, xs, sigma, lr, B = 1.5, 0.0, 0.4, 0.5, 2
    model = GaussianLinearRegression([h], [xs], sigma)
    drift = lambda y: -h * (y - xs)  # noqa: E731
    diffusion = lambda y: lr * ((h * (y - xs) ** 2 + sigma**2) * h + h**2 * (y - xs) ** 2) / B  # noqa: E731
    a, b, x0 = -0.5, 1.0, 0.1
    coarse, fine = (bvp_exit_time(drift, diffusion, a, b, x0, n) for n in (800, 1600))
    richardson = (4 * fine - coarse) / 3
    got = exact.mean_exit_time(model, SDE(lr, B), x0, a, b)
    assert abs(got - richardson) < 1e-7 * got
    # the probabilities of the two ends add to one and favour the nearer end
    p = exact.splitting_probability(model, SDE(lr, B), x0, a, b)
    assert 0.5 < 1 - p < 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lower=1.0, upper=1.0), "lower must be < upper"),
        (dict(x0=2.0), "x0 must lie in"),
        (dict(sde=SGD(0.1, 1)), "sde must be toylab.SDE"),
    ],
)
def test_bad_input(kwargs, match):
    args = dict(model=tilted([1.0, -1.0]), sde=SDE(0.1, 1), x0=0.0, lower=-1.0, upper=1.0) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        exact.mean_exit_time(**args)


def test_vanishing_noise_and_higher_dimension_are_refused():
    with pytest.raises(ValueError, match="diffusion lr Sigma_B vanishes"):
        exact.mean_exit_time(tilted([1.0, 1.0]), SDE(0.1, 1), 0.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        exact.mean_exit_time(GaussianLinearRegression([1.0, 2.0], [0.0, 0.0], 0.1), SDE(0.1, 1), 0.0, -1.0, 1.0)
