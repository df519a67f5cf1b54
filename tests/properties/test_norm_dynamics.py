"""Eqs. (9)-(10): norm dynamics of a scale-invariant loss with weight decay.

Statements, for SphereRegression (l_i(x) = (a_i^T x/|x| - y_i)^2/2):

* scale invariance: l_i(c x) = l_i(x) for every c > 0, and so <grad l_i(x), x> = 0;
* SGD, by enumeration over batches:
  E[|x_{k+1}|^2 | x_k] = (1 - eta wd)^2 |x_k|^2 + eta^2 (|grad L(x_k)|^2 + tr Sigma_B(x_k));
* SVAG, by enumeration over both batches, with eta/l and l Sigma_B:
  E[|x_{k+1}|^2 | x_k] = (1 - eta wd/l)^2 |x_k|^2 + (eta/l)^2 (|grad L(x_k)|^2 + l tr Sigma_B(x_k)).

All exact, to a relative 1e-10.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toylab import SphereRegression
from toylab.theory import sgd_norm_step, svag_norm_step

from toylab.testing.enumerate import sgd_increments, svag_increments
from toylab.testing.strategies import datasets, points, sphere_setups


@given(datasets(SphereRegression).flatmap(lambda m: st.tuples(st.just(m), points(m.dim, nonzero=True))),
       st.floats(1e-3, 1e3))
def test_scale_invariance_every_sample(model_x, c):
    model, x = model_x
    idx = np.arange(model.n_samples)
    g = model.sample_grads(x, idx)
    # the scale of g_i(x) = r_i (a_i - (a_i.u) u)/|x|, with |r_i| <= |a_i| + |y_i|: rounding is relative to it
    norms = np.linalg.norm(model.A, axis=1)
    scale = norms * (norms + np.abs(model.y))
    for i in idx:
        single = SphereRegression(model.A[i : i + 1], model.y[i : i + 1])
        assert abs(single.loss(c * x) - single.loss(x)) <= 1e-12 * (1 + scale[i])
        # Euler's relation for a degree-0 homogeneous function: <g_i(x), x> = 0
        assert abs(g[i] @ x) <= 1e-12 * scale[i]
    # the gradient is homogeneous of degree -1
    atol = 1e-12 * scale.max() / (c * np.linalg.norm(x))
    np.testing.assert_allclose(model.grad(c * x), model.grad(x) / c, rtol=1e-10, atol=atol)


def _terms(model, x, B, sampler):
    g = model.grad(x)
    return float(x @ x), float(g @ g), float(model.noise_trace(x, B, sampler))


@given(sphere_setups())
def test_sgd_conditional_norm(setup):
    model, x, lr, B, wd, sampler = setup
    after = x + sgd_increments(model, x, lr, B, wd, sampler)
    enumerated = np.mean(np.sum(after**2, axis=1))
    assert abs(enumerated - sgd_norm_step(*_terms(model, x, B, sampler), lr, wd)) <= 1e-10 * enumerated


@given(sphere_setups(), st.sampled_from([1.0, 2.0, 3.5, 16.0, 1000.0]))
def test_svag_conditional_norm(setup, l):
    model, x, lr, B, wd, sampler = setup
    after = x + svag_increments(model, x, lr, B, l, wd, sampler)
    enumerated = np.mean(np.sum(after**2, axis=1))
    assert abs(enumerated - svag_norm_step(*_terms(model, x, B, sampler), lr, wd, l)) <= 1e-10 * enumerated
