"""Closed forms of the paper's statements: one-step moments, eqs. (9)-(12), Section 5.

Everything here is a formula, with no simulation: the one-step moments of
SGD and SVAG on a finite data set (Lemma 4.7), the norm dynamics of a
scale-invariant loss with weight decay (eqs. (9)-(10)), the equilibrium
relations (11)-(12), C-closeness (Definition 5.1) and the conditions under
which an SDE approximation (Theorem 5.2) or the linear scaling rule
(Theorem 5.6 and eq. (14)) must fail.  ``docs/mathematics.md`` derives each one;
``tests/properties`` checks them against exhaustive enumeration.

Units.  For SGD at learning rate eta, ``R = E|x|^2``, ``G = E|grad L(x)|^2``
and ``N = E tr Sigma_B(x)``.  For the SDE (6), whose diffusion is
``eta Sigma_B``, the paper's ``N_bar = eta E tr Sigma_B(X)`` (eq. 12); the
closeness of Theorem 5.2 compares ``N`` with ``N_bar / eta``, the same
quantity in the same units.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as V
from .algorithms import SGD, SVAG

__all__ = [
    "batch_third_moment",
    "step_moments",
    "sgd_norm_step",
    "svag_norm_step",
    "sgd_equilibrium_residual",
    "svag_equilibrium_residual",
    "sde_equilibrium_residual",
    "closeness",
    "c_close",
    "sde_closeness_bound",
    "min_sde_closeness",
    "lsr_kappa_max",
    "lsr_critical_ratio",
    "momentum_stationary_variance",
    "momentum_sde_ratio",
    "gaussian_noise_gain",
    "gaussian_critical_lr",
    "gaussian_stationary",
    "kramers_rate",
    "power_law_rate",
]


# ---------------------------------------------------------------------------
# one-step moments on a finite data set (Lemma 4.7)


def _finite_model(model):
    if not getattr(model, "finite", False):
        raise ValueError(
            f"model {type(model).__name__} is a population model; closed-form third moments are "
            "computed for finite data sets (LinearRegression, SphereRegression)"
        )


def batch_third_moment(model, x: ArrayLike, batch_size: int, sampler: str = "with_replacement") -> np.ndarray:
    r"""Third central moment of the batch gradient, ``E xi^{(x)3}``, ``xi = grad L_gamma - grad L``.

    With ``T_1 = (1/n) sum_i (g_i - grad L)^{(x)3}`` (the one-sample moment),

    * with replacement (B independent draws): ``T_B = T_1 / B^2``;
    * without replacement (a uniform B-subset of n), the finite-population
      third moment of a sample mean: ``T_B = T_1 (n - B)(n - 2B) / (B^2 (n - 1)(n - 2))``
      (``T_1`` for B = 1, zero for B = n).

    Returns an array of shape (d, d, d).
    """
    _finite_model(model)
    batch_size, sampler = model.check_batch(batch_size, sampler)
    if sampler == "reshuffle":
        sampler = "without_replacement"  # the per-step marginal of an epoch's batch
    x = model.check_point(x, name="x")
    g = model.per_sample_grads(x)
    dev = g - g.mean(axis=0)
    t1 = np.einsum("ni,nj,nk->ijk", dev, dev, dev) / model.n_samples
    n, B = model.n_samples, batch_size
    if sampler == "with_replacement":
        return t1 / B**2
    if B == 1:
        return t1
    if B == n:
        return np.zeros_like(t1)  # the batch is the whole data set: no noise
    return t1 * (n - B) * (n - 2 * B) / (B**2 * (n - 1) * (n - 2))


def step_moments(model, algorithm, x: ArrayLike) -> dict[str, np.ndarray]:
    r"""Exact first three moments of one step's increment ``Delta = x' - x`` from ``x``.

    For SGD and SVAG on a finite data set (Lemma 4.7).  Write ``s = lr/l``
    (``l = 1`` for SGD), ``v = grad L(x) + wd x`` and ``zeta`` the combined
    gradient's deviation, ``zeta = c1 xi_1 + c2 xi_2`` with
    ``c1 + c2 = 1``, ``c1^2 + c2^2 = l``, ``c1^3 + c2^3 = (3l - 1)/2``.  Then
    ``Delta = -s (v + zeta)`` and

    * (i)   ``E Delta = -(lr/l) v``
    * (ii)  ``E Delta Delta^T = (lr/l)^2 v v^T + (lr^2/l) Sigma_B``
    * (iii) ``E Delta^{(x)3} = -(lr/l)^3 v^{(x)3} - (lr^3/l^2) Sym(v (x) Sigma_B)
      - (lr^3 (3l - 1)/(2 l^3)) T_B``

    with ``Sym(v (x) S)_{ijk} = v_i S_jk + v_j S_ik + v_k S_ij`` and ``T_B``
    from :func:`batch_third_moment`.  Every term of (iii) is O(lr^3 / l^2).

    Returns
    -------
    dict with ``"mean"`` (d,), ``"second"`` (d, d) and ``"third"`` (d, d, d).
    """
    if not isinstance(algorithm, (SGD, SVAG)):
        raise TypeError(f"algorithm must be SGD or SVAG, got {type(algorithm).__name__}")
    _finite_model(model)
    x = model.check_point(x, name="x")
    B, sampler = algorithm.batch_size, algorithm.sampler
    l = algorithm.l if isinstance(algorithm, SVAG) else 1.0
    s = algorithm.lr / l
    v = model.grad(x) + algorithm.weight_decay * x
    sigma = model.noise_cov(x, B, sampler if sampler != "reshuffle" else "without_replacement")
    third_dev = batch_third_moment(model, x, B, sampler)
    cube = 0.5 * (3.0 * l - 1.0)  # c1^3 + c2^3
    sym = np.einsum("i,jk->ijk", v, sigma) + np.einsum("j,ik->ijk", v, sigma) + np.einsum("k,ij->ijk", v, sigma)
    return {
        "mean": -s * v,
        "second": s**2 * (np.outer(v, v) + l * sigma),
        "third": -(s**3) * (np.einsum("i,j,k->ijk", v, v, v) + l * sym + cube * third_dev),
    }


# ---------------------------------------------------------------------------
# norm dynamics of scale-invariant losses (eqs. 9-10)


def sgd_norm_step(sq_norm: float, grad_sq_norm: float, noise_trace: float, lr: float, weight_decay: float) -> float:
    r"""``E[|x_{k+1}|^2 | x_k]`` for SGD on a scale-invariant loss, eqs. (9)-(10).

    Because ``<grad l_i(x), x> = 0``, the cross term vanishes:
    ``E|x'|^2 = (1 - lr wd)^2 |x|^2 + lr^2 (|grad L(x)|^2 + tr Sigma_B(x))``.
    """
    return svag_norm_step(sq_norm, grad_sq_norm, noise_trace, lr, weight_decay, 1.0)


def svag_norm_step(sq_norm: float, grad_sq_norm: float, noise_trace: float, lr: float, weight_decay: float,
                   l: float) -> float:
    r"""The SVAG analogue of eqs. (9)-(10): step lr/l and noise covariance l Sigma_B.

    ``E|x'|^2 = (1 - lr wd / l)^2 |x|^2 + (lr/l)^2 (|grad L(x)|^2 + l tr Sigma_B(x))``.
    """
    s = lr / l
    return (1.0 - s * weight_decay) ** 2 * sq_norm + s**2 * (grad_sq_norm + l * noise_trace)


# ---------------------------------------------------------------------------
# equilibria (eqs. 11-12)


def sgd_equilibrium_residual(R: float, G: float, N: float, lr: float, weight_decay: float) -> float:
    r"""Residual of eq. (11), ``(2 - lr wd) wd R - lr (G + N)``: zero at SGD's equilibrium.

    Taking expectations of eqs. (9)-(10) at stationarity, ``E|x'|^2 = E|x|^2 = R``.
    """
    return (2.0 - lr * weight_decay) * weight_decay * R - lr * (G + N)


def svag_equilibrium_residual(R: float, G: float, N: float, lr: float, weight_decay: float, l: float) -> float:
    r"""SVAG's equilibrium relation, ``(2 - lr wd / l) wd R - lr (G / l + N)``.

    From :func:`svag_norm_step` at stationarity; as l grows it tends to
    eq. (12) with ``N_bar = lr N``.
    """
    return (2.0 - lr * weight_decay / l) * weight_decay * R - lr * (G / l + N)


def sde_equilibrium_residual(R: float, N_bar: float, weight_decay: float) -> float:
    r"""Residual of eq. (12), ``2 wd R - N_bar``, with ``N_bar = lr E tr Sigma_B(X)``.

    By Ito's formula ``d|X|^2 = (-2 wd |X|^2 + lr tr Sigma_B(X)) dt + dM`` on a
    scale-invariant loss (the drift term ``<grad L, X>`` vanishes).
    """
    return 2.0 * weight_decay * R - N_bar


# ---------------------------------------------------------------------------
# Definition 5.1, Theorem 5.2, Theorem 5.6 and eq. (14)


def closeness(a: ArrayLike, b: ArrayLike) -> float:
    r"""The smallest C >= 1 for which positive ``a`` and ``b`` are C-close (Definition 5.1).

    ``a`` and ``b`` are C-close when ``b / C <= a <= C b``; for tuples of
    statistics, every pair must be.  Returns ``max(a/b, b/a)`` over the pairs.
    """
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if np.any(~(a > 0)) or np.any(~(b > 0)):
        raise ValueError("closeness compares positive statistics (R, G, N); got a non-positive or NaN value")
    return float(np.max(np.maximum(a / b, b / a)))


def c_close(a: ArrayLike, b: ArrayLike, C: float) -> bool:
    """Definition 5.1: ``b / C <= a <= C b`` for every pair of statistics."""
    C = V.real("C", C)
    if C < 1:
        raise ValueError(f"C must be >= 1, got {C}")
    return closeness(a, b) <= C


def _check_lr_wd(lr, weight_decay):
    lr = V.real("lr", lr, positive=True)
    weight_decay = V.real("weight_decay", weight_decay, nonnegative=True)
    if lr * weight_decay >= 2:
        raise ValueError(f"lr * weight_decay must be < 2 for an equilibrium to exist, got {lr * weight_decay}")
    return lr, weight_decay


def sde_closeness_bound(C: float, lr: float, weight_decay: float) -> float:
    r"""Theorem 5.2: if SGD's and the SDE's equilibria are C-close, ``G/N <= (1 - lr wd/2) C^2 - 1``.

    Derivation: from (11), ``lr G = (2 - lr wd) wd R - lr N``.  C-closeness
    gives ``R <= C R_bar`` and ``N_bar <= C lr N``, and (12) gives
    ``2 wd R_bar = N_bar``, so
    ``(2 - lr wd) wd R <= (1 - lr wd/2) C N_bar <= (1 - lr wd/2) C^2 lr N``.
    A measured ``G/N`` above this bound proves the two are not C-close.
    """
    lr, weight_decay = _check_lr_wd(lr, weight_decay)
    return (1.0 - 0.5 * lr * weight_decay) * C**2 - 1.0


def min_sde_closeness(G: float, N: float, lr: float, weight_decay: float) -> float:
    r"""The smallest C compatible with SGD's ``G/N`` under Theorem 5.2: ``sqrt((1 + G/N)/(1 - lr wd/2))``.

    SGD's and the SDE's equilibria cannot be C-close for any smaller C.
    """
    lr, weight_decay = _check_lr_wd(lr, weight_decay)
    if not (G >= 0 and N > 0):
        raise ValueError(f"G must be >= 0 and N > 0, got G={G}, N={N}")
    return math.sqrt((1.0 + G / N) / (1.0 - 0.5 * lr * weight_decay))


def lsr_kappa_max(G: float, N: float, C: float, lr: float, weight_decay: float) -> float:
    r"""The paper's Theorem 5.6, sharper: the largest kappa for which (C, kappa)-linear scaling invariance can hold.

    Baseline SGD at (B, lr) has equilibrium (R, G, N); the scaled run at
    (kappa B, kappa lr) has (R', G', N').  (C, kappa)-invariance asks R', G' and
    the kappa-scaled ``kappa N'`` to be C-close to R, G and N.  Eq. (11) at both
    and closeness give ``kappa G + N <= C^2 rho (G + N)`` with
    ``rho = (2 - kappa lr wd)/(2 - lr wd)``, which solves to

    ``kappa <= (2 C^2 (G + N)/(2 - lr wd) - N) / (G + C^2 (G + N) lr wd / (2 - lr wd))``.

    With ``lr wd -> 0`` this is ``C^2 + (C^2 - 1) N/G``.  Any larger kappa breaks
    the linear scaling rule, whatever happens at the scaled batch size.

    How it differs from the printed theorem: it keeps the weight-decay factor
    rho and solves the inequality for kappa exactly rather than bounding it,
    so its constant is sharper (docs/mathematics.md, "Section 5").
    """
    lr, weight_decay = _check_lr_wd(lr, weight_decay)
    if not (G > 0 and N >= 0):
        raise ValueError(f"G must be > 0 and N >= 0, got G={G}, N={N}")
    a = 2.0 * C**2 * (G + N) / (2.0 - lr * weight_decay)
    b = C**2 * (G + N) * lr * weight_decay / (2.0 - lr * weight_decay)
    return (a - N) / (G + b)


def lsr_critical_ratio(kappa: float, C: float, lr: float, weight_decay: float) -> float:
    r"""The baseline form of the paper's eq. (14): the largest baseline G/N for which (C, kappa)-invariance can hold.

    The same inequality as :func:`lsr_kappa_max` (Theorem 5.6), solved for the baseline's
    ``G/N``: ``G/N <= (C^2 rho - 1)/(kappa - C^2 rho)`` when ``kappa > C^2 rho``
    (``inf`` otherwise: no G/N rules the scaling out).  A negative value
    means no baseline can satisfy it.  Increasing in C and decreasing in kappa.
    """
    lr, weight_decay = _check_lr_wd(lr, weight_decay)
    kappa = V.real("kappa", kappa, positive=True)
    if kappa * lr * weight_decay >= 2:
        raise ValueError(f"kappa * lr * weight_decay must be < 2 for the scaled run to have an equilibrium, got {kappa * lr * weight_decay}")
    rho = (2.0 - kappa * lr * weight_decay) / (2.0 - lr * weight_decay)
    if kappa <= C**2 * rho:
        return math.inf
    return (C**2 * rho - 1.0) / (kappa - C**2 * rho)


# ---------------------------------------------------------------------------
# heavy-ball momentum on a quadratic with additive noise (Liu, Ziyin & Ueda)


def momentum_stationary_variance(lr: float, momentum: ArrayLike, h: ArrayLike, c: ArrayLike,
                                 batch_size: int = 1) -> np.ndarray:
    r"""Stationary variance of heavy-ball SGD along one eigen-direction of a noisy quadratic.

    On ``L = h x^2 / 2`` with gradient noise of variance ``sigma^2 = c / B``,
    ``b <- mu b + h x + xi``, ``x <- x - lr b`` has, where it is stable
    (``0 < lr h < 2 (1 + mu)``),

        Var x = lr sigma^2 (1 + mu) / (h (1 - mu) (2 (1 + mu) - lr h))

    (docs/mathematics.md derives it from the stationary equations of (x, b)).
    On ``NoisyQuadratic(H, C)`` it is the variance along an eigenvector u of
    H with ``h = u^T H u`` and ``c = u^T C u``, whatever C: the dynamics
    decouple along H's eigenvectors and the variance along u sees only the
    noise along u.  ``momentum=0`` gives SGD's ``lr sigma^2 / (h (2 - lr h))``.
    Arrays broadcast.
    """
    mu = np.asarray(momentum, dtype=float)
    h = np.asarray(h, dtype=float)
    sigma2 = np.asarray(c, dtype=float) / batch_size
    return lr * sigma2 * (1.0 + mu) / (h * (1.0 - mu) * (2.0 * (1.0 + mu) - lr * h))


def momentum_sde_ratio(lr: float, momentum: ArrayLike, h: ArrayLike) -> np.ndarray:
    r"""Heavy-ball SGD's stationary variance over that of its SDE, along one eigen-direction.

    The SDE of SGD at the effective learning rate ``lr / (1 - mu)``,
    ``dX = -h X dt + (lr sigma^2 / (1 - mu))^{1/2} dW``, has stationary
    variance ``lr sigma^2 / (2 h (1 - mu))``; heavy ball's
    (:func:`momentum_stationary_variance`) exceeds it by

        1 / (1 - lr h / (2 (1 + mu))),

    which tends to 1 as lr h -> 0 at fixed mu (the continuous limit) and, at a
    given lr h, is closer to 1 the larger mu.
    """
    return 1.0 / (1.0 - lr * np.asarray(h, dtype=float) / (2.0 * (1.0 + np.asarray(momentum, dtype=float))))


# ---------------------------------------------------------------------------
# the strength of minibatch noise on online least squares (Ziyin et al.)


def _gaussian_args(h, batch_size, momentum):
    h = V.as_array("h", h, ndim=1)
    if np.any(h <= 0):
        raise ValueError(f"h must be positive (the variances of the inputs), got {h}")
    batch_size = V.integer("batch_size", batch_size, minimum=1)
    momentum = V.real("momentum", momentum, nonnegative=True)
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    return h, batch_size, momentum


def gaussian_noise_gain(lr: float, h: ArrayLike, momentum: float = 0.0, sde: bool = False) -> np.ndarray:
    r"""The gain ``a_i`` of each eigen-direction of ``GaussianLinearRegression``.

    ``a_i = h_i^2 V_i``, where ``V_i`` is the stationary variance of x along
    direction i per unit variance of the gradient noise (a scalar noisy
    quadratic of curvature h_i, :func:`momentum_stationary_variance`):

        heavy-ball SGD:  a_i = lr h_i (1 + mu) / ((1 - mu) (2 (1 + mu) - lr h_i))
        SDE at lr:       a_i = lr h_i / 2

    (mu = 0 gives SGD's ``lr h_i / (2 - lr h_i)``; the SDE of heavy ball is
    that of SGD at ``lr / (1 - mu)``, so pass that lr with ``sde=True``).
    Both are ``lr h_i / 2 (1 + O(lr h_i))``: the discrete excess is the
    ``2 (1 + mu) - lr h_i`` in the denominator.  Infinite where direction i
    is unstable on its own (``lr h_i >= 2 (1 + mu)``).
    """
    h = np.asarray(h, dtype=float)
    if sde:
        return 0.5 * lr * h
    mu = float(momentum)
    room = 2.0 * (1.0 + mu) - lr * h
    with np.errstate(divide="ignore"):
        return np.where(room > 0, lr * h * (1.0 + mu) / ((1.0 - mu) * np.where(room > 0, room, 1.0)), np.inf)


def _noise_feedback(lr, h, batch_size, momentum, sde):
    """F = sum_i a_i / (B - a_i): the loop gain of the multiplicative noise (inf when >= 1 is certain)."""
    a = gaussian_noise_gain(lr, h, momentum, sde)
    if np.any(a >= batch_size):
        return np.inf
    return float(np.sum(a / (batch_size - a)))


def gaussian_critical_lr(h: ArrayLike, batch_size: int, momentum: float = 0.0, sde: bool = False) -> float:
    r"""The largest stable learning rate of SGD on ``GaussianLinearRegression(h, x*, sigma)``.

    The second moments of heavy-ball SGD (momentum mu, batch B, no weight
    decay) stay bounded exactly when every ``a_i < B`` and

        F(lr) = sum_i a_i / (B - a_i) < 1,                             (*)

    with ``a_i`` of :func:`gaussian_noise_gain` (docs/mathematics.md, "The
    critical learning rate of minibatch noise").  F increases from 0 to
    infinity, so the critical learning rate is the one root of F = 1: for
    isotropic inputs (every h_i = h, d of them) it is

        SGD:  lr_c = 2 B (1 - mu^2) / (h ((1 + mu)(d + 1) + B (1 - mu)))
        SDE:  lr_c = 2 B / (h (d + 1))

    so at B = 1 SGD diverges at ``2 / (h (d + 2))``, far below the curvature
    bound ``2 / h``; the label noise sigma sets the stationary level, not the
    threshold.  The SDE's threshold (``sde=True``, in units of its own lr,
    that is lr / (1 - mu) for heavy ball) is the root of the same equation with
    ``a_i = lr h_i / 2``; it grows without bound in B, where SGD's tends to
    ``2 (1 + mu) / h_max``.  Solved by Brent's method to machine precision.

    Parameters
    ----------
    h : (d,) positive variances of the inputs (the eigenvalues of H)
    batch_size : int
    momentum : float in [0, 1)
    sde : bool
        The SDE's threshold instead of SGD's.
    """
    from scipy.optimize import brentq

    h, batch_size, momentum = _gaussian_args(h, batch_size, momentum)
    if sde:
        # F is increasing and reaches 1 before lr h_max / 2 = B
        hi = 2.0 * batch_size / float(np.max(h))
    else:
        hi = 2.0 * (1.0 + momentum) / float(np.max(h))
    f = lambda lr: min(_noise_feedback(lr, h, batch_size, momentum, sde), 2.0) - 1.0  # noqa: E731
    return float(brentq(f, 0.0, hi, xtol=1e-16 * hi, rtol=4 * np.finfo(float).eps, maxiter=500))


def gaussian_stationary(lr: float, h: ArrayLike, sigma: float, batch_size: int, momentum: float = 0.0,
                        sde: bool = False) -> tuple[float, float]:
    r"""Stationary ``(E L, tr Cov x)`` of SGD (or its SDE) on ``GaussianLinearRegression(h, x*, sigma)``.

    Without weight decay the stationary mean is x*, Cov x is diagonal and,
    with ``a_i`` of :func:`gaussian_noise_gain`, ``F = sum_i a_i/(B - a_i)``
    and ``T = E r^T H r`` (r = x - x*), the stationary equations
    ``V_i = (a_i / h_i^2) (T + sigma^2) h_i / B + (a_i / B) V_i`` give

        E L       = (T + sigma^2) / 2 = sigma^2 / (2 (1 - F))
        tr Cov x  = sum_i V_i = sigma^2 / (1 - F) * sum_i a_i / (h_i (B - a_i))

    for heavy-ball SGD at (lr, mu, B), and with ``sde=True`` for the SDE
    ``dX = -H (X - x*) dt + (lr Sigma_B(X))^{1/2} dW`` (docs/mathematics.md).
    Both diverge as F -> 1, at :func:`gaussian_critical_lr`.  Raises
    ``ValueError`` past it.
    """
    h, batch_size, momentum = _gaussian_args(h, batch_size, momentum)
    sigma = V.real("sigma", sigma, nonnegative=True)
    lr = V.real("lr", lr, positive=True)
    F = _noise_feedback(lr, h, batch_size, momentum, sde)
    if F >= 1:
        raise ValueError(
            f"lr={lr} is at or past the critical learning rate "
            f"{gaussian_critical_lr(h, batch_size, momentum, sde):.6g} (B={batch_size}, momentum={momentum}): "
            "the second moments diverge and have no stationary value"
        )
    a = gaussian_noise_gain(lr, h, momentum, sde)
    level = sigma**2 / (1.0 - F)
    return 0.5 * level, float(level * np.sum(a / (h * (batch_size - a))))


# ---------------------------------------------------------------------------
# escape from a minimum: Arrhenius (additive noise) and the power law (loss-driven noise)


def _escape_args(curvature_min, curvature_saddle, saddles):
    k_min = V.real("curvature_min", curvature_min, positive=True)
    k_saddle = V.real("curvature_saddle", curvature_saddle)
    if k_saddle >= 0:
        raise ValueError(f"curvature_saddle must be < 0 (the loss's curvature across the saddle), got {k_saddle}")
    saddles = V.integer("saddles", saddles, minimum=1)
    return k_min, k_saddle, saddles


def kramers_rate(barrier: float, temperature: float, curvature_min: float, curvature_saddle: float,
                 saddles: int = 1, *, at_saddle: bool = False) -> float:
    r"""The Kramers (Arrhenius) escape rate of ``dX = -L'(X) dt + sqrt(2 T) dW`` over a barrier.

    For additive noise of constant diffusion ``s^2 = 2 T`` (for SGD's SDE,
    ``T = lr Sigma_B / 2``), in the limit ``barrier / T >> 1``:

        kappa = saddles * sqrt(h* |h_s|) / (2 pi) * exp(-(L_s - L*) / T)

    (Kramers 1940; Hanggi, Talkner & Borkovec 1990, eq. (4.7b)), with h* and
    h_s the curvatures L'' at the minimum and across the saddle, one term per
    saddle (or per way over one, as on a circle).  The exponent is the
    *linear* barrier L_s - L*.

    ``kappa`` is the rate of crossing to the far side.  A path that has just
    reached the top of the saddle falls back half the time, so the mean time
    to *reach* the saddle (an exit test at the saddle, as
    ``toylab.exact.mean_exit_time`` with an end there) is 1 / (2 kappa):
    ``at_saddle=True`` gives that rate, 2 kappa.

    Parameters
    ----------
    barrier : float
        L_s - L* > 0.
    temperature : float
        T > 0.
    curvature_min, curvature_saddle : float
        h* > 0 and h_s < 0.
    saddles : int
        Ways out over equal saddles (their rates add).
    at_saddle : bool
        The rate of first reaching the saddle, 2 kappa (above).
    """
    k_min, k_saddle, saddles = _escape_args(curvature_min, curvature_saddle, saddles)
    barrier = V.real("barrier", barrier, positive=True)
    temperature = V.real("temperature", temperature, positive=True)
    reach = 2.0 if at_saddle else 1.0
    return reach * saddles * np.sqrt(k_min * -k_saddle) / (2 * np.pi) * np.exp(-barrier / temperature)


def power_law_rate(loss_min: float, loss_saddle: float, noise_scale: float, curvature_min: float,
                   curvature_saddle: float, saddles: int = 1, *, at_saddle: bool = False) -> float:
    r"""The power-law escape rate when the noise is proportional to the loss (Mori et al. 2022).

    For ``dX = -L'(X) dt + sqrt(c L(X)) dW`` (SGD's SDE on a square loss with
    ``Sigma_B ~ 2 L H / B``: ``c = 2 lr H / B``), the random time change
    ``d tau = L(X_t) dt`` turns X into ``dY = -(log L)'(Y) d tau + sqrt(c) dW``:
    additive noise of temperature c/2 in the potential log L.  Kramers' rate
    in tau, times d tau / dt = L* in the well, gives

        kappa = saddles * sqrt(h* |h_s|) / (2 pi) * (L* / L_s)^(2 / c + 1/2)

    (docs/mathematics.md, "Escape: the power law"): the exponent is the *log*
    barrier log(L_s / L*), and the rate falls as a power of L_s / L*.
    Assumptions: the noise is exactly c L (at the minimum and the saddle it
    is, for ``toylab.models.CircleBarrier``); ``2 log(L_s / L*) / c >> 1``; and
    the path spends its time in the well, where L ~ L*.  ``at_saddle=True``
    gives the rate of first reaching the saddle, twice this (as
    :func:`kramers_rate`).

    Parameters
    ----------
    loss_min, loss_saddle : float
        0 < L* < L_s.
    noise_scale : float
        c > 0 with diffusion s^2 = c L.
    curvature_min, curvature_saddle : float
        h* > 0 and h_s < 0 (of L, not log L).
    saddles : int
        Ways out over equal saddles.
    at_saddle : bool
        The rate of first reaching the saddle, 2 kappa.
    """
    k_min, k_saddle, saddles = _escape_args(curvature_min, curvature_saddle, saddles)
    l_min = V.real("loss_min", loss_min, positive=True)
    l_saddle = V.real("loss_saddle", loss_saddle, positive=True)
    if l_saddle <= l_min:
        raise ValueError(f"loss_saddle must be > loss_min, got {l_saddle} <= {l_min}")
    c = V.real("noise_scale", noise_scale, positive=True)
    reach = 2.0 if at_saddle else 1.0
    return reach * saddles * np.sqrt(k_min * -k_saddle) / (2 * np.pi) * (l_min / l_saddle) ** (2.0 / c + 0.5)
