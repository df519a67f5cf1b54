"""Lemma 4.6: the SDE's one-step moments over SDE time eta/l, up to O(l^-2).

Statement (for Delta~(x) = X_{eta/l} - x, X the solution of the SDE (6)
started at x, v = grad L(x) + wd x):

  (i)  E Delta~ = -(eta/l) v + O(l^-2)
  (ii) E Delta~ Delta~^T = (eta/l)^2 v v^T + (eta^2/l) Sigma_B(x) + O(l^-2)

On the linear models the SDE's first two moments solve a linear ODE
dz/dt = G z (``toylab.exact.sde_generator``), so with t = eta/l:

* exactly: the order-t coefficients of E Delta~ and E Delta~ Delta~^T are
  -v and eta Sigma_B(x) (relative 1e-10), and the order-1 ones are 0;
* the remainders r(l) of (i) and (ii) equal c t^2 + rho(t), c from G^2 z(0)/2,
  with |rho(t)| <= K (t |G|)^3 e^{t |G|} / 6 (Taylor's theorem), checked on the
  exact moments for l = 1 ... 4096: so r(l) = O(l^-2);
* where that bound certifies that c t^2 dominates (bound and rounding below 5%
  of it), r(l) shrinks by 4 (to within 10%) when l doubles.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from toylab import SDE, GaussianLinearRegression, NoisyQuadratic, exact

from toylab.testing.strategies import finite_setups, points


def _delta_moments(z, x, d):
    """(E Delta~, E Delta~ Delta~^T) from z = (c, E X, vec E X X^T), linear in z."""
    c, m1, m2 = z[0], z[1 : 1 + d], z[1 + d :].reshape(d, d)
    return m1 - c * x, m2 - np.outer(x, m1) - np.outer(m1, x) + c * np.outer(x, x)


def check_lemma_4_6(model, x, lr, B, wd, sampler):
    d = model.dim
    sde = SDE(lr, B, weight_decay=wd, sampler=sampler)
    G = exact.sde_generator(model, sde)
    z0 = np.concatenate([[1.0], x, np.outer(x, x).ravel()])
    v = model.grad(x) + wd * x
    sigma = model.noise_cov(x, B, sampler)
    size = (1 + np.linalg.norm(x)) ** 2 * np.linalg.norm(z0)  # bounds |P z| / |z| times |z0|

    # the Taylor coefficients t^0, t^1, t^2 of (E Delta~, E Delta~ Delta~^T)
    coef = [_delta_moments(np.linalg.matrix_power(G, k) @ z0 / [1, 1, 2][k], x, d) for k in range(3)]
    assert np.max(np.abs(coef[0][0])) <= 1e-12 * size and np.max(np.abs(coef[0][1])) <= 1e-12 * size
    assert np.max(np.abs(coef[1][0] + v)) <= 1e-10 * (np.linalg.norm(G) * size)
    assert np.max(np.abs(coef[1][1] - lr * sigma)) <= 1e-10 * (np.linalg.norm(G) * size)
    # (ii)'s remainder keeps the t^2 coefficient after removing v v^T
    c = (coef[2][0], coef[2][1] - np.outer(v, v))
    norm_G = np.linalg.norm(G, 2)

    ls = 2.0 ** np.arange(0, 13)
    rem = []
    for l in ls:
        t = lr / l
        m = exact.moments(model, sde, x, [t])
        first, second = _delta_moments(np.concatenate([[1.0], m.first[0], m.second[0].ravel()]), x, d)
        r = (first + t * v, second - t**2 * np.outer(v, v) - t * lr * sigma)
        bound = size * (t * norm_G) ** 3 * np.exp(t * norm_G) / 6
        rounding = 1e-13 * size
        for j in range(2):
            assert np.linalg.norm(r[j] - c[j] * t**2) <= bound * (1 + 1e-6) + rounding, (j, l)
        rem.append([np.linalg.norm(r[j]) for j in range(2)] + [bound, rounding])
    rem = np.array(rem)
    certified_doublings = []
    for j in range(2):
        cj = np.linalg.norm(c[j])
        t2 = (lr / ls) ** 2
        # the regime certified: Taylor bound and rounding both below 5% of c t^2,
        # where r(l)/r(2l) lies within 4 (1 +- 0.05)/(1 -+ 0.05)
        certified = (rem[:, 2] + rem[:, 3] <= 0.05 * cj * t2)
        idx = np.flatnonzero(certified[:-1] & certified[1:])
        certified_doublings.append(len(idx))
        for i in idx:
            assert 4 * 0.95 / 1.05 <= rem[i, j] / rem[i + 1, j] <= 4 * 1.05 / 0.95, (j, ls[i], rem[:, j])
    return certified_doublings


@given(finite_setups())
def test_lemma_4_6_finite(setup):
    """(i), (ii) on LinearRegression with drawn data, x, eta, B, wd and sampler."""
    check_lemma_4_6(*setup)


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(
    st.lists(st.floats(0.2, 2.0), min_size=d, max_size=d),
    points(d), points(d), st.floats(0.0, 1.0), st.floats(0.01, 0.5), st.integers(1, 4))))
def test_lemma_4_6_gaussian(args):
    """(i), (ii) on GaussianLinearRegression, whose Sigma_B(x) is quadratic in x - x*."""
    h, x_star, x, sigma, lr, B = args
    check_lemma_4_6(GaussianLinearRegression(h, x_star, sigma), x, lr, B, 0.0, "with_replacement")


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(
    st.lists(st.floats(0.2, 2.0), min_size=d, max_size=d), points(d), st.floats(0.01, 0.5), st.integers(1, 4))))
def test_lemma_4_6_quadratic(args):
    """(i), (ii) on NoisyQuadratic (constant Sigma_B)."""
    h, x, lr, B = args
    check_lemma_4_6(NoisyQuadratic(np.diag(h), np.eye(len(h)) * 0.5), x, lr, B, 0.0, "with_replacement")


def test_fourfold_on_a_fixed_example():
    """The fourfold shrinkage is certified, and holds, over several doublings on a fixed example."""
    from toylab import LinearRegression

    rng = np.random.default_rng(1)
    model = LinearRegression(rng.normal(size=(5, 2)), rng.normal(size=5))
    doublings = check_lemma_4_6(model, np.array([1.0, -0.5]), 0.5, 1, 0.1, "with_replacement")
    assert min(doublings) >= 3, doublings
