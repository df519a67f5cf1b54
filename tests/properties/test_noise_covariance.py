"""The noise covariance Sigma_B(x) (Section 2) and SVAG's combined gradient (eq. 5).

Statements:

* Sigma_B(x) is symmetric positive semi-definite, for every model;
* with replacement Sigma_B = Sigma_1/B; without replacement
  Sigma_B = ((n - B)/(n - 1)) Sigma_1/B; both equal the covariance of the
  batch gradient over every batch (enumerated), to a relative 1e-10;
* SVAG's combined gradient c1 grad L_gamma1 + c2 grad L_gamma2 has mean grad L
  and covariance l Sigma_B, for every l (enumerated over both batches).
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toylab import GaussianLinearRegression, NoisyQuadratic, SphereRegression

from toylab.testing.enumerate import batch_grads, central_moment, moment, svag_increments
from toylab.testing.strategies import finite_setups, points


def assert_psd(S, scale):
    assert np.array_equal(S, S.T) or np.max(np.abs(S - S.T)) <= 1e-14 * scale
    assert np.linalg.eigvalsh(0.5 * (S + S.T))[0] >= -1e-12 * scale


@given(st.one_of(finite_setups(), finite_setups(SphereRegression)))
def test_batch_covariance_by_enumeration(setup):
    model, x, _, B, _, sampler = setup
    g = batch_grads(model, x, B, sampler)
    enumerated = central_moment(g, 2)
    sigma = model.noise_cov(x, B, sampler)
    sigma1 = model.noise_cov(x, 1, sampler)
    n = model.n_samples
    factor = 1 / B if sampler == "with_replacement" else (n - B) / ((n - 1) * B) if n > 1 else 0.0
    scale = np.mean(np.sum((g - g.mean(0)) ** 2, axis=1)) + np.trace(sigma1) + 1e-300
    assert np.max(np.abs(enumerated - sigma)) <= 1e-10 * scale
    assert np.max(np.abs(sigma - factor * sigma1)) <= 1e-12 * scale
    assert_psd(sigma, scale)
    # and the batch gradient is unbiased
    assert np.max(np.abs(moment(g, 1) - model.grad(x))) <= 1e-10 * (np.sqrt(scale) + np.abs(model.grad(x)).max())


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(
    st.lists(st.floats(0.1, 2.0), min_size=d, max_size=d), points(d), points(d), st.floats(0.0, 1.0), st.integers(1, 8))))
def test_population_models_psd_and_scaling(args):
    h, x_star, x, sigma, B = args
    d = len(h)
    rng = np.random.default_rng(len(h))
    root = rng.normal(size=(d, d))
    for model in (GaussianLinearRegression(h, x_star, sigma), NoisyQuadratic(np.diag(h), root @ root.T)):
        S1, SB = model.noise_cov(x, 1), model.noise_cov(x, B)
        scale = np.trace(S1) + 1e-300
        assert_psd(S1, scale)
        assert np.max(np.abs(SB - S1 / B)) <= 1e-14 * scale


@given(finite_setups(), st.sampled_from([1.0, 1.5, 2.0, 5.0, 64.0, 1e4]))
def test_svag_gradient_mean_and_covariance(setup, l):
    model, x, lr, B, wd, sampler = setup
    # the increment is -(lr/l)(combined gradient + wd x): undo the map
    combined = -(l / lr) * svag_increments(model, x, lr, B, l, wd, sampler) - wd * x
    sigma = model.noise_cov(x, B, sampler)
    # undoing the map costs the rounding of x (~1e-16 |x|) times l/lr
    floor = 1e-14 * (l / lr) * (1 + np.abs(x).max())
    scale = l * np.trace(sigma) + np.sum(model.grad(x) ** 2) + floor**2
    assert np.max(np.abs(moment(combined, 1) - model.grad(x))) <= 1e-10 * np.sqrt(scale) * np.sqrt(l) + floor
    assert np.max(np.abs(central_moment(combined, 2) - l * sigma)) <= 1e-10 * scale + floor**2
