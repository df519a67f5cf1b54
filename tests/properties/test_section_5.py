"""Definition 5.1, Theorem 5.2, Theorem 5.6 and eq. (14), as logic and on simulated equilibria.

Statements (derived in docs/mathematics.md, "Section 5"):

* Definition 5.1: statistics a, b > 0 are C-close when b/C <= a <= C b.
* Theorem 5.2: if SGD's equilibrium (R, G, N), which satisfies eq. (11)
  (2 - eta wd) wd R = eta (G + N), and the SDE's (R_bar, N_bar), which
  satisfies eq. (12) 2 wd R_bar = N_bar, are C-close in R and in
  N ~ N_bar/eta, then G/N <= (1 - eta wd/2) C^2 - 1.
* Theorem 5.6 (solved exactly, a sharper constant): if SGD at (B, eta) and at
  (kappa B, kappa eta) are C-close in R, G and kappa-scaled N, then
  kappa <= kappa_max(G/N, C) (``lsr_kappa_max``).
* Eq. (14) in its baseline form: the same bound read as a largest baseline
  G/N for a given kappa (``lsr_critical_ratio``); both thresholds are
  monotone in C and kappa.
"""

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from toylab import SGD, EulerMaruyama, SphereRegression, simulate
from toylab import theory as th
from toylab.experiments._common import closeness_with_se, window_average

positive = st.floats(1e-3, 1e3)
fractions = st.floats(0.0, 1.0)


@st.composite
def sgd_equilibria(draw, lr=None):
    """(R, G, N, lr, wd) satisfying eq. (11) exactly."""
    lr = draw(st.floats(1e-3, 1.0)) if lr is None else lr
    wd = draw(st.floats(1e-3, 1.0))
    R = draw(positive)
    total = (2 - lr * wd) * wd * R / lr  # G + N
    split = draw(st.floats(0.01, 0.99))
    return R, split * total, (1 - split) * total, lr, wd


@given(sgd_equilibria(), positive)
def test_theorem_5_2_inequalities(eq, R_bar):
    """Whenever the two equilibria are C-close, each inequality of the proof holds."""
    R, G, N, lr, wd = eq
    N_bar = 2 * wd * R_bar  # eq. (12)
    C = th.closeness([R, N], [R_bar, N_bar / lr])  # the smallest C for which they are C-close
    assert th.c_close([R, N], [R_bar, N_bar / lr], C * (1 + 1e-12))
    tol = 1e-9
    # (11) rewritten: eta G = (2 - eta wd) wd R - eta N
    assert math.isclose(lr * G, (2 - lr * wd) * wd * R - lr * N, rel_tol=tol, abs_tol=tol * lr * N)
    # R <= C R_bar and (12)
    assert (2 - lr * wd) * wd * R <= (1 - lr * wd / 2) * C * N_bar * (1 + tol)
    # N_bar <= C eta N
    assert N_bar <= C * lr * N * (1 + tol)
    # hence the theorem
    assert G / N <= th.sde_closeness_bound(C, lr, wd) * (1 + tol) + tol
    assert C >= th.min_sde_closeness(G, N, lr, wd) * (1 - tol)


@given(sgd_equilibria(), st.floats(1.0, 64.0), positive, st.floats(0.01, 0.99))
def test_theorem_5_5_bound(base, kappa, R_scaled, split):
    """Every pair of equilibria that are C-close under (C, kappa)-scaling has kappa <= kappa_max."""
    R, G, N, lr, wd = base
    assume(kappa * lr * wd < 2)
    # the scaled run (kappa B, kappa lr) at its own equilibrium, eq. (11) at kappa lr
    total = (2 - kappa * lr * wd) * wd * R_scaled / (kappa * lr)
    Gk, Nk = split * total, (1 - split) * total
    C = th.closeness([R_scaled, Gk, kappa * Nk], [R, G, N])
    assert kappa <= th.lsr_kappa_max(G, N, C, lr, wd) * (1 + 1e-9)
    assert G / N <= th.lsr_critical_ratio(kappa, C, lr, wd) * (1 + 1e-9) + 1e-12
    # with lr wd -> 0 the bound is C^2 + (C^2 - 1) N/G
    tiny = 1e-13 / (C**2 * (1 + N / G))
    assert math.isclose(th.lsr_kappa_max(G, N, C, tiny, wd), C**2 + (C**2 - 1) * N / G, rel_tol=1e-9)


@given(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.floats(1.0, 4.0), st.floats(1.0, 4.0),
       st.floats(1e-3, 0.5), st.floats(1e-3, 0.5))
def test_thresholds_monotone(G, N, C1, C2, lr, wd):
    """kappa_max increases with C; the critical G/N increases with C and decreases with kappa."""
    lo, hi = sorted((C1, C2))
    assert th.lsr_kappa_max(G, N, lo, lr, wd) <= th.lsr_kappa_max(G, N, hi, lr, wd) * (1 + 1e-12)
    assert th.sde_closeness_bound(lo, lr, wd) <= th.sde_closeness_bound(hi, lr, wd)
    for kappa in (1.5, 3.0, 10.0):
        if kappa * lr * wd < 2:
            a, b = th.lsr_critical_ratio(kappa, lo, lr, wd), th.lsr_critical_ratio(kappa, hi, lr, wd)
            assert a <= b or math.isclose(a, b, rel_tol=1e-12)
    kappas = [k for k in (2.0, 4.0, 8.0, 16.0, 32.0) if k * lr * wd < 2]
    ratios = [th.lsr_critical_ratio(k, hi, lr, wd) for k in kappas]
    assert all(a >= b or math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ratios, ratios[1:]))


def test_theory_rejects_bad_input():
    import pytest

    with pytest.raises(ValueError, match="C must be >= 1"):
        th.c_close([1.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        th.sde_closeness_bound(1.5, 4.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        th.closeness([1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        th.closeness([1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="kappa"):
        th.lsr_critical_ratio(100.0, 1.5, 0.1, 1.0)


# ---------------------------------------------------------------------------
# on simulated equilibria of SphereRegression


def _time_average(ensemble, name):
    """Mean over all record times and paths, with the conservative standard error."""
    return window_average(ensemble, name, ensemble.times[0])


def test_theorem_5_2_on_simulated_equilibria():
    """Where G/N meets Theorem 5.2's condition for C, SGD and the SDE are indeed not C-close.

    SGD and the SDE (Euler-Maruyama at dt = eta/10 and eta/20, Richardson-
    extrapolated to dt -> 0) run to equilibrium on SphereRegression with weight
    decay; R, G, N are averaged over the second half of SDE time [0, 12] and
    4000 paths.  Checks, each at 4 standard errors: (11) holds for SGD, (12)
    for the SDE, and for C = 1 + 0.9 (C_min - 1), which meets the condition,
    the measured closeness exceeds C.
    """
    rng = np.random.default_rng(1)
    model = SphereRegression(rng.normal(size=(8, 3)), 0.5 * rng.normal(size=8))
    x0 = np.array([1.0, 0.5, -0.5])
    lr, B, wd, T, paths = 0.2, 16, 0.5, 12.0, 4000
    times = lr * np.arange(round(T / 2 / lr), round(T / lr) + 1)
    sgd = simulate(model, SGD(lr, B, weight_decay=wd), x0, times, paths=paths, seed=1, progress=False)
    (R, sR), (G, sG), (N, sN) = (_time_average(sgd, k) for k in ("sq_norm", "grad_sq_norm", "noise_trace"))
    res11 = th.sgd_equilibrium_residual(R, G, N, lr, wd)
    assert abs(res11) <= 4 * ((2 - lr * wd) * wd * sR + lr * (sG + sN))

    em = [
        simulate(model, EulerMaruyama(lr, B, dt, weight_decay=wd), x0, times, paths=paths, seed=2 + j, progress=False)
        for j, dt in enumerate((lr / 10, lr / 20))
    ]
    (R1, sR1), (R2, sR2) = (_time_average(e, "sq_norm") for e in em)
    (N1, sN1), (N2, sN2) = (_time_average(e, "noise_trace") for e in em)
    R_bar, sR_bar = 2 * R2 - R1, math.hypot(2 * sR2, sR1)  # Richardson: EM's bias is O(dt)
    Nn, sNn = 2 * N2 - N1, math.hypot(2 * sN2, sN1)  # N_bar / eta
    res12 = th.sde_equilibrium_residual(R_bar, lr * Nn, wd)
    assert abs(res12) <= 4 * (2 * wd * sR_bar + lr * sNn)

    C_min = th.min_sde_closeness(G, N, lr, wd)
    C = 1 + 0.9 * (C_min - 1)
    assert G / N > th.sde_closeness_bound(C, lr, wd)  # the sufficient condition is met
    measured, se = closeness_with_se([R, N], [sR, sN], [R_bar, Nn], [sR_bar, sNn])
    assert measured == th.closeness([R, N], [R_bar, Nn])
    assert measured - 4 * se > C, (measured, se, C, C_min)
