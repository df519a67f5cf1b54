"""Lemma 4.7: the one-step moments of SVAG, exactly, by enumeration of both batches.

Statement (for the SVAG increment Delta(x) = x_{k+1} - x_k of eq. (5), with
v = grad L(x) + wd x):

  (i)   E Delta = -(eta/l) v
  (ii)  E Delta Delta^T = (eta/l)^2 v v^T + (eta^2/l) Sigma_B(x)
  (iii) E Delta^{(x)3} = -(eta/l)^3 v^{(x)3} - (eta^3/l^2) Sym(v (x) Sigma_B)
                         - eta^3 (3l - 1)/(2 l^3) T_B          = O(eta^3 / l^2)
  (iv)  E |Delta|^4 = O(l^-2)

(iii) is derived in docs/mathematics.md ("Lemma 4.7 (iii)"): the third
moment of the combined noise c1 xi_1 + c2 xi_2 is (c1^3 + c2^3) T_B with
c1^3 + c2^3 = (3l - 1)/2, not l^{3/2} or l; the statement tested is what holds.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toylab import SVAG
from toylab.theory import batch_third_moment, step_moments

from toylab.testing.enumerate import batch_grads, central_moment, moment, svag_increments
from toylab.testing.strategies import finite_setups

ls = st.sampled_from([1.0, 1.5, 2.0, 4.0, 7.0, 16.0, 100.0])
REL = 1e-10


def close(a, b, scale):
    """|a - b| <= 1e-10 * scale elementwise, scale being E|Delta|^k for the k-th moment."""
    return np.max(np.abs(a - b)) <= REL * scale


@given(finite_setups(), ls)
def test_first_and_second_moments(setup, l):
    """Lemma 4.7 (i) and (ii), exactly, with and without replacement."""
    model, x, lr, B, wd, sampler = setup
    delta = svag_increments(model, x, lr, B, l, wd, sampler)
    v = model.grad(x) + wd * x
    sigma = model.noise_cov(x, B, sampler)
    size = np.mean(np.sum(delta**2, axis=1))
    assert close(moment(delta, 1), -(lr / l) * v, np.sqrt(size))
    assert close(moment(delta, 2), (lr / l) ** 2 * np.outer(v, v) + lr**2 / l * sigma, size)


@given(finite_setups(), ls)
def test_third_moment(setup, l):
    """Lemma 4.7 (iii): E Delta^{(x)3} as derived, to 1e-10 of E|Delta|^3."""
    model, x, lr, B, wd, sampler = setup
    delta = svag_increments(model, x, lr, B, l, wd, sampler)
    exact = step_moments(model, SVAG(lr, B, l, weight_decay=wd, sampler=sampler), x)
    scale = np.mean(np.linalg.norm(delta, axis=1) ** 3)
    assert close(moment(delta, 3), exact["third"], scale)
    assert close(moment(delta, 2), exact["second"], scale ** (2 / 3))
    assert close(moment(delta, 1), exact["mean"], scale ** (1 / 3))


@given(finite_setups())
def test_batch_third_moment_by_enumeration(setup):
    """T_B = T_1/B^2 with replacement; T_1 (n-B)(n-2B)/(B^2 (n-1)(n-2)) without."""
    model, x, _, B, _, sampler = setup
    g = batch_grads(model, x, B, sampler)
    scale = np.mean(np.linalg.norm(g - g.mean(0), axis=1) ** 3)
    assert close(central_moment(g, 3), batch_third_moment(model, x, B, sampler), scale)


@given(finite_setups())
def test_third_moment_is_order_l_minus_2(setup):
    """(iii) is O(l^-2): l^2 E Delta^{(x)3} converges as l grows (the l^-3 terms die out)."""
    model, x, lr, B, wd, sampler = setup
    scaled = [l**2 * step_moments(model, SVAG(lr, B, l, weight_decay=wd, sampler=sampler), x)["third"] for l in (1e3, 1e6)]
    sigma = model.noise_cov(x, B, sampler)
    v = model.grad(x) + wd * x
    limit = -(lr**3) * (
        np.einsum("i,jk->ijk", v, sigma) + np.einsum("j,ik->ijk", v, sigma) + np.einsum("k,ij->ijk", v, sigma)
        + 1.5 * batch_third_moment(model, x, B, sampler)
    )
    size = lr**3 * (np.linalg.norm(v) + np.sqrt(np.trace(sigma)) + 1e-300) ** 3
    assert np.max(np.abs(scaled[1] - limit)) <= 1e-5 * size
    assert np.max(np.abs(scaled[0] - limit)) <= 1e-2 * size


@given(finite_setups())
def test_fourth_moment_bound(setup):
    """Lemma 4.7 (iv): l^2 E|Delta|^4 <= 8 eta^4 (|v|^4 + 12 E|xi|^4) for every l.

    From |v + zeta|^4 <= 8(|v|^4 + |zeta|^4), |zeta|^4 <= 8(c1^4 |xi_1|^4 + c2^4 |xi_2|^4)
    and c1^4 + c2^4 = (l^2 + 2l - 1)/2 <= 3 l^2 / 2.  And the order is sharp:
    l^2 E|Delta|^4 >= eta^4 (tr Sigma_B)^2 > 0 for every l when the noise is not zero.
    """
    model, x, lr, B, wd, sampler = setup
    g = batch_grads(model, x, B, sampler)
    m4 = np.mean(np.sum((g - g.mean(0)) ** 2, axis=1) ** 2)
    v = model.grad(x) + wd * x
    upper = 8 * lr**4 * (np.sum(v * v) ** 2 + 12 * m4)
    # and the order is sharp: E|Delta|^4 >= (E|Delta|^2)^2 >= ((lr/l)^2 l tr Sigma_B)^2
    lower = lr**4 * np.trace(model.noise_cov(x, B, sampler)) ** 2
    for l in (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 1e5):
        delta = svag_increments(model, x, lr, B, l, wd, sampler)
        scaled = l**2 * np.mean(np.sum(delta**2, axis=1) ** 2)
        assert lower * (1 - 1e-12) <= scaled <= upper * (1 + 1e-12)
