"""Moment identities of the linear models, exactly, and where they stop.

Statements (LinearRegression, where grad L is affine and Sigma_B quadratic):

* SGD and NGD have the same first and second moments at every step;
* SVAG(l) has the first and second moments of Euler-Maruyama at dt = eta/l;
* they stop coinciding at the third moment, by the batch gradient's third
  central moment T_B: one SGD step has E (Delta - E Delta)^{(x)3} = -eta^3 T_B,
  SVAG's -(eta/l)^3 (3l - 1)/2 T_B, the Gaussian algorithms' 0;
* where T_B = 0 (two data points, B = 1: a symmetric two-point noise) they
  coincide through the third moment and part at the fourth: along u, with
  s = u^T Sigma_B u, SGD has E(u^T(Delta - E Delta))^4 = eta^4 s^2 against
  NGD's 3 eta^4 s^2; SVAG has (eta/l)^4 (2l^2 - 2l + 1) s^2 against
  Euler-Maruyama's 3 (eta/l)^4 l^2 s^2.

SGD's and SVAG's moments come from enumerating every sequence of batches;
NGD's and Euler-Maruyama's from ``toylab.exact`` (an independent code path).
Relative tolerance 1e-10.
"""

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from toylab import NGD, EulerMaruyama, exact
from toylab.theory import batch_third_moment

from toylab.testing.enumerate import central_moment, moment, sgd_increments, sgd_states, svag_increments, svag_states
from toylab.testing.strategies import finite_setups

REL = 1e-10


def assert_moments_match(states, reference, times):
    m = reference
    for k, X in enumerate(states):
        scale = np.mean(np.sum(X**2, axis=1)) + 1e-300
        assert np.max(np.abs(moment(X, 1) - m.first[k])) <= REL * np.sqrt(scale)
        assert np.max(np.abs(moment(X, 2) - m.second[k])) <= REL * scale


@given(finite_setups(n=(2, 5)))
def test_sgd_and_ngd_share_two_moments(setup):
    model, x, lr, B, wd, sampler = setup
    steps = 3
    states = sgd_states(model, x, lr, B, wd, sampler, steps)
    ngd = exact.moments(model, NGD(lr, B, weight_decay=wd, sampler=sampler), x, lr * np.arange(1, steps + 1))
    assert_moments_match(states, ngd, None)


@given(finite_setups(n=(2, 4)), st.sampled_from([1.0, 2.0, 3.0, 8.0]))
def test_svag_and_euler_maruyama_share_two_moments(setup, l):
    model, x, lr, B, wd, sampler = setup
    steps = 2
    states = svag_states(model, x, lr, B, l, wd, sampler, steps)
    em = exact.moments(model, EulerMaruyama(lr, B, lr / l, weight_decay=wd, sampler=sampler), x, lr / l * np.arange(1, steps + 1))
    assert_moments_match(states, em, None)


@given(finite_setups(n=(3, 5)), st.sampled_from([1.0, 2.0, 8.0]))
def test_third_moments_part(setup, l):
    """One step: SGD's and SVAG's third central moments are the batch's T_B, scaled; Gaussian ones are 0."""
    model, x, lr, B, wd, sampler = setup
    T = batch_third_moment(model, x, B, sampler)
    # the increments themselves (x' - x would lose digits to cancellation when the step is small)
    sgd = sgd_increments(model, x, lr, B, wd, sampler)
    svag = svag_increments(model, x, lr, B, l, wd, sampler)
    # relative to E|Delta|^3 (the increment's size, drift included), which bounds the rounding
    scale3 = lambda X: np.mean(np.linalg.norm(X, axis=1) ** 3) + 1e-300  # noqa: E731
    assert np.max(np.abs(central_moment(sgd, 3) + lr**3 * T)) <= REL * scale3(sgd)
    assert np.max(np.abs(central_moment(svag, 3) + (lr / l) ** 3 * 0.5 * (3 * l - 1) * T)) <= REL * scale3(svag)
    # so they differ from the Gaussian algorithms (third central moment 0) exactly when T_B != 0
    if np.max(np.abs(T)) > 1e-6 * (np.trace(model.noise_cov(x, B, sampler)) ** 1.5 + 1e-300):
        assert np.max(np.abs(central_moment(sgd, 3))) > 0


@given(finite_setups(n=(2, 2)), st.sampled_from([1.0, 2.0, 5.0, 32.0]))
def test_two_point_noise_parts_at_fourth_moment(setup, l):
    model, x, lr, _, wd, sampler = setup
    B = 1
    sigma = model.noise_cov(x, B, sampler)
    s = np.linalg.eigvalsh(sigma)[-1]
    assume(s > 1e-6)
    u = np.linalg.eigh(sigma)[1][:, -1]
    T = batch_third_moment(model, x, B, sampler)
    assert np.max(np.abs(T)) <= 1e-12 * s**1.5  # symmetric: the third moments coincide
    sgd = sgd_increments(model, x, lr, B, wd, sampler) @ u
    svag = svag_increments(model, x, lr, B, l, wd, sampler) @ u
    fourth = lambda z: np.mean((z - z.mean()) ** 4)  # noqa: E731
    assert abs(fourth(sgd) - lr**4 * s**2) <= REL * lr**4 * s**2
    gaussian_sgd = 3 * lr**4 * s**2  # NGD: a Gaussian step with variance lr^2 s
    assert fourth(sgd) < gaussian_sgd / 2
    expected = (lr / l) ** 4 * (2 * l**2 - 2 * l + 1) * s**2
    assert abs(fourth(svag) - expected) <= REL * expected
    gaussian_em = 3 * (lr / l) ** 4 * l**2 * s**2  # EM at dt = lr/l: variance dt lr s = (lr/l)^2 l s
    assert fourth(svag) < gaussian_em
