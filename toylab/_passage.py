r"""First passage of the SDE in one dimension, exactly: mean exit time and splitting probability.

For ``dX = mu(X) dt + s(X) dW`` on (a, b) with both ends absorbing, with drift
``mu = -(L' + wd x)`` and diffusion ``s^2 = lr Sigma_B`` (the SDE of eqs. (2)/(6)),
the mean exit time T(x) solves ``mu T' + (s^2 / 2) T'' = -1`` with
``T(a) = T(b) = 0``, and the probability u(x) of reaching b before a solves
``mu u' + (s^2 / 2) u'' = 0`` with ``u(a) = 0``, ``u(b) = 1`` (Gardiner,
*Stochastic Methods*, Sections 5.2.7-5.2.8; Karlin & Taylor, *A Second Course*,
Section 15.3).  The classical double-integral solution,

    T(x) = 2 [ (1 - u(x)) int_a^x (S(y) - S(a)) m(y) dy + u(x) int_x^b (S(b) - S(y)) m(y) dy ],

with scale density ``psi = exp(-phi)``, ``phi' = 2 mu / s^2``, ``S = int psi`` and
speed density ``m = exp(phi) / s^2``, multiplies and subtracts numbers of size
``exp(+-phi)``, which span e^90 for a strong drift and lose every digit.  Here
the exponentials are folded into two bounded, positive functions,

    A(y) = int_a^y exp(phi(y) - phi(t)) dt,   A' = phi' A + 1,  A(a) = 0,
    C(y) = int_y^b exp(phi(y) - phi(t)) dt,   C' = phi' C - 1,  C(b) = 0,

and the formula becomes a sum of positive terms, with no cancellation:

    u(x) = A(x) / (A(x) + C(x)),
    T(x) = [ C(x) int_a^x 2 A / s^2 dy + A(x) int_x^b 2 C / s^2 dy ] / (A(x) + C(x)).

Both are integrated as ODEs by DOP853 at a relative tolerance of 1e-12, A and
its integral forward from a to x, C and its backward from b to x.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V

__all__ = ["mean_exit_time", "splitting_probability"]

#: The ODE solver's relative tolerance (results are good to about 1e-10).
RTOL = 1e-12
#: Points at which the diffusion is checked to be positive before integrating.
_CHECK_POINTS = 2001


def _coefficients(model, sde, x0, lower, upper):
    """Validated (x0, a, b) and the functions mu(y), s^2(y) of a scalar y."""
    from .algorithms import SDE
    from .models import Model

    if not isinstance(model, Model):
        raise TypeError(f"model must be a toylab model, got {type(model).__name__}")
    if not isinstance(sde, SDE):
        raise TypeError(
            f"sde must be toylab.SDE(lr, batch_size), got {type(sde).__name__}: the exact exit time is the SDE's; "
            "simulate(..., exit=) measures it for SGD, SVAG and Euler-Maruyama"
        )
    if model.dim != 1:
        raise ValueError(f"the exact exit time is one-dimensional: model must have dim 1, got dim {model.dim}")
    model.check_batch(sde.batch_size, sde.sampler, name="sde.batch_size")
    a = V.real("lower", lower)
    b = V.real("upper", upper)
    x = V.real("x0", x0)
    if not a < b:
        raise ValueError(f"lower must be < upper, got lower={a:g}, upper={b:g}")
    if not a < x < b:
        raise ValueError(f"x0 must lie in the open interval (lower, upper) = ({a:g}, {b:g}), got {x:g}")
    scale = sde.lr * model.batch_factor(sde.batch_size, sde.sampler)
    wd = sde.weight_decay

    def drift(y):
        y = np.atleast_1d(np.asarray(y, dtype=float))[:, None]
        return -(model.grad(y)[:, 0] + wd * y[:, 0])

    def diffusion(y):
        y = np.atleast_1d(np.asarray(y, dtype=float))[:, None]
        return scale * model.sigma1(y)[:, 0, 0]

    grid = np.linspace(a, b, _CHECK_POINTS)
    s2 = diffusion(grid)
    if not np.all(np.isfinite(s2)) or np.min(s2) <= 0:
        where = grid[np.argmin(np.where(np.isfinite(s2), s2, -np.inf))]
        raise ValueError(
            f"the diffusion lr Sigma_B vanishes (or is not finite) at x = {where:.6g} in (lower, upper) = "
            f"({a:g}, {b:g}): the exit-time formula needs s^2 > 0 on the interval (a deterministic or "
            "degenerate stretch is not a diffusion)"
        )
    return x, a, b, drift, diffusion


def solve(model, sde, x0, lower, upper):
    """``(T(x0), u(x0))``: the mean exit time and the probability of leaving at ``upper``."""
    from scipy.integrate import solve_ivp

    x, a, b, drift, diffusion = _coefficients(model, sde, x0, lower, upper)

    def rhs(sign):
        # z = (A or C, its integral of 2 (.) / s^2 towards x)
        def f(y, z):
            s2 = diffusion(y)[0]
            phi_prime = 2.0 * drift(y)[0] / s2
            return [phi_prime * z[0] + sign, sign * 2.0 * z[0] / s2]

        return f

    ends = []
    for start, sign in ((a, 1.0), (b, -1.0)):
        sol = solve_ivp(rhs(sign), (start, x), [0.0, 0.0], method="DOP853", rtol=RTOL, atol=1e-30)
        if not sol.success:  # pragma: no cover - DOP853 fails only on non-finite input
            raise RuntimeError(f"the exit-time integration failed: {sol.message}")
        ends.append(sol.y[:, -1])
    # J2' = -2 C / s^2 integrated from b down to x is int_x^b 2 C / s^2
    (A, J1), (C, J2) = ends
    if not all(np.isfinite(v) for v in (A, C, J1, J2)):
        raise ValueError(
            "the exit-time integrals overflow float64: the drift across (lower, upper) exceeds the noise by a "
            "factor near e^700, so one end is never reached (shrink the interval or raise lr / lower batch_size)"
        )
    total = A + C
    return (C * J1 + A * J2) / total, A / total


def mean_exit_time(model, sde, x0: float, lower: float, upper: float) -> float:
    r"""The SDE's mean first-passage time out of (lower, upper) from x0, exactly.

    For the one-dimensional SDE ``dX = -(L'(X) + wd X) dt + sqrt(lr Sigma_B(X)) dW``
    (eqs. (2)/(6)) with both ends absorbing: the solution of
    ``mu T' + (s^2 / 2) T'' = -1``, ``T(lower) = T(upper) = 0``, by the
    classical double-integral formula in a form free of cancellation, to a
    relative 1e-10 (module ``toylab._passage``; docs/mathematics.md, "Exit times").

    Parameters
    ----------
    model : toylab model of dimension 1
    sde : toylab.SDE
        lr, batch size (and sampler, weight decay) of the SDE.
    x0, lower, upper : float
        ``lower < x0 < upper``.

    Returns
    -------
    float
        E tau, in SDE time (steps x lr).

    Raises
    ------
    ValueError
        For ``lower >= upper``, x0 outside the interval, a model of dimension
        other than 1, or a diffusion that vanishes inside the interval.
    TypeError
        For an ``sde`` that is not :class:`toylab.SDE`.
    """
    return float(solve(model, sde, x0, lower, upper)[0])


def splitting_probability(model, sde, x0: float, lower: float, upper: float) -> float:
    r"""The probability that the SDE from x0 reaches ``upper`` before ``lower``, exactly.

    ``u(x0) = S(x0) / S(upper)`` with the scale function ``S(x) = int_lower^x
    exp(-int_lower^y 2 mu / s^2)``, computed as ``A / (A + C)`` (module
    ``toylab._passage``).  Its complement is the probability of leaving at
    ``lower``: the check that exits counted at one end are escapes over the
    barrier there.  Arguments and errors as :func:`mean_exit_time`.
    """
    return float(solve(model, sde, x0, lower, upper)[1])
