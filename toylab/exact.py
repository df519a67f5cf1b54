"""Exact first and second moments for linear models.

For ``LinearRegression``, ``GaussianLinearRegression`` and ``NoisyQuadratic``
the gradient is affine, ``grad L(x) = H x - b``, and the noise covariance
Sigma_B(x) is quadratic in x.  Then one step of any algorithm here maps
``(E x, E x x^T)`` linearly (with a constant term).  With ``A = (1 - s wd) I - s H``
and the algorithm's ``(s, q)`` (see ``Algorithm.moment_coefficients``)::

    m1' = A m1 + s b
    m2' = A m2 A^T + s (A m1 b^T + b m1^T A^T) + s^2 b b^T + q E Sigma_B(x)

and the SDE (2)/(6) has the linear ODE::

    dm1/dt = -(H + wd) m1 + b
    dm2/dt = -(H + wd) m2 - m2 (H + wd) + b m1^T + m1 b^T + lr E Sigma_B(X)

solved with a matrix exponential.  Quadratic observables then have exact
expectations, with no Monte Carlo error: the oracle the simulators are tested
against.  The state is carried as ``(c, m1, m2)`` with ``c = E 1`` so that
every map is homogeneous-linear; applying a map to the basis of that space
gives its matrix, used for the SDE's exponential and for stationary moments.

Under random reshuffling the batches of one epoch are dependent, so the
moments alone are not Markov; :func:`moments` then carries them jointly with
the set of indices already used in the epoch (exact, for small data sets).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product
from math import comb

import numpy as np
from numpy.typing import ArrayLike

from . import _validate as V
from ._time import check_times, record_steps
from .algorithms import SDE, SGD, SVAG, Algorithm

__all__ = [
    "Moments",
    "StationaryMoments",
    "moments",
    "stationary",
    "critical_lr",
    "quadratic_means",
    "sde_generator",
    "mean_exit_time",
    "splitting_probability",
]

# first passage of the one-dimensional SDE (its own module: no moments involved)
from ._passage import mean_exit_time, splitting_probability  # noqa: E402

OBSERVABLES = ("sq_norm", "loss", "grad_sq_norm", "noise_trace")

#: Largest (transitions per step) x d^2 under reshuffling: bounds memory to ~100 MB.
RESHUFFLE_LIMIT = 4_000_000


# ---------------------------------------------------------------------------
# checks


def _check(model, algorithm):
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm must be a toylab algorithm (SGD, SVAG, ...), got {type(algorithm).__name__}")
    if not getattr(model, "has_exact_moments", False):
        raise ValueError(
            f"model {type(model).__name__} has no exact moments: its gradient is not affine in x "
            "(exact moments exist for LinearRegression, GaussianLinearRegression and NoisyQuadratic, and for a "
            "FiniteSum whose per-sample gradients are affine, declared with FiniteSum(..., linear=True))"
        )
    if getattr(algorithm, "momentum", 0.0) and algorithm.sampler == "reshuffle":
        raise ValueError(
            f"{type(algorithm).__name__}(momentum={algorithm.momentum}, sampler='reshuffle'): toylab.exact has no "
            "moments of momentum under reshuffling; use sampler='with_replacement' or 'without_replacement'"
        )
    if hasattr(algorithm, "batch_size"):
        model.check_batch(algorithm.batch_size, algorithm.sampler, name="algorithm.batch_size")


def _noise_factor(model, algorithm):
    """f with E Sigma_B = f E Sigma_1 (0 for GD, which has no batch)."""
    if not hasattr(algorithm, "batch_size"):
        return 0.0
    return model.batch_factor(algorithm.batch_size, algorithm.sampler)


# ---------------------------------------------------------------------------
# the maps, vectorised over a leading axis K


def _discrete_map(model, algorithm):
    H, b, _ = model.quadratic_form()
    s, q = algorithm.moment_coefficients
    qf = q * _noise_factor(model, algorithm)
    A = (1.0 - s * algorithm.weight_decay) * np.eye(model.dim) - s * H
    bb = np.outer(b, b)

    def step(c, m1, m2):
        Am1 = m1 @ A.T
        m1n = Am1 + s * c[:, None] * b
        m2n = A @ m2 @ A.T + s * (Am1[:, :, None] * b + b[:, None] * Am1[:, None, :]) + s * s * c[:, None, None] * bb
        if qf:
            m2n = m2n + qf * model.expected_sigma1(c, m1, m2)
        return c, m1n, m2n

    return step


def _momentum_map(model, algorithm):
    """Heavy ball's moment map on the state z = (x, b) (2d numbers).

    With g = (H + wd) x - b_L + xi the noisy gradient (b_L the linear term of
    L; E xi = 0, E xi xi^T = f Sigma_1(x), SGD's batch noise or NGD's
    Gaussian one): b' = mu b + g, x' = x - lr b', that is
    z' = A z + a + (-lr, 1) xi with

        A = [[I - lr K, -lr mu I], [K, mu I]],  K = H + wd I,  a = (lr b_L, -b_L).

    The noise adds (lr^2, -lr; -lr, 1) (x) f E Sigma_1(x) to the second
    moments, from the x block of the moments.
    """
    H, b, _ = model.quadratic_form()
    d = model.dim
    lr, mu = algorithm.lr, algorithm.momentum
    f = _noise_factor(model, algorithm)
    K = H + algorithm.weight_decay * np.eye(d)
    A = np.block([[np.eye(d) - lr * K, -lr * mu * np.eye(d)], [K, mu * np.eye(d)]])
    a = np.concatenate([lr * b, -b])
    aa = np.outer(a, a)
    spread = np.array([[lr * lr, -lr], [-lr, 1.0]])

    def step(c, m1, m2):
        Am1 = m1 @ A.T
        m1n = Am1 + c[:, None] * a
        m2n = A @ m2 @ A.T + Am1[:, :, None] * a + a[:, None] * Am1[:, None, :] + c[:, None, None] * aa
        S = f * model.expected_sigma1(c, m1[:, :d], m2[:, :d, :d])
        return c, m1n, m2n + np.einsum("ij,kab->kiajb", spread, S).reshape(len(c), 2 * d, 2 * d)

    return step


def _step_map(model, algorithm):
    """The moment map of a discrete algorithm and the size of its state: x, or (x, b) with momentum."""
    if getattr(algorithm, "momentum", 0.0):
        return _momentum_map(model, algorithm), 2 * model.dim
    return _discrete_map(model, algorithm), model.dim


def _sde_rhs(model, algorithm):
    H, b, _ = model.quadratic_form()
    K = H + algorithm.weight_decay * np.eye(model.dim)
    diffusion = algorithm.lr * _noise_factor(model, algorithm)

    def rhs(c, m1, m2):
        dm1 = -m1 @ K.T + c[:, None] * b
        dm2 = -K @ m2 - m2 @ K + b[:, None] * m1[:, None, :] + m1[:, :, None] * b
        dm2 = dm2 + diffusion * model.expected_sigma1(c, m1, m2)
        return np.zeros_like(c), dm1, dm2

    return rhs


def _matrix(fn, d):
    """The matrix of a linear map on z = (c, m1, vec m2), from its action on the basis."""
    n = 1 + d + d * d
    basis = np.eye(n)
    c, m1, m2 = fn(basis[:, 0], basis[:, 1 : 1 + d], basis[:, 1 + d :].reshape(n, d, d))
    return np.concatenate([c[:, None], m1, m2.reshape(n, d * d)], axis=1).T


def _pack(c, m1, m2):
    return np.concatenate([[c], m1, m2.ravel()])


def _unpack(z, d):
    return z[1 : 1 + d], _sym(z[1 + d :].reshape(d, d))


def _sym(m):
    return 0.5 * (m + np.swapaxes(m, -1, -2))


def sde_generator(model, sde):
    """The matrix G of the SDE's moment ODE ``dz/dt = G z`` on ``z = (1, E x, vec E x x^T)``.

    ``z(t) = expm(t G) z(0)``; its Taylor series ``sum_k t^k G^k z(0) / k!``
    gives the SDE's short-time moments term by term (Lemma 4.6).
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be toylab.SDE, got {type(sde).__name__}")
    _check(model, sde)
    return _matrix(_sde_rhs(model, sde), model.dim)


# ---------------------------------------------------------------------------
# results


def quadratic_means(model, algorithm, first, second):
    """Exact expectations of the quadratic observables from E x and E x x^T.

    With ``L(x) = x^T H x / 2 - b^T x + L(0)`` and ``grad L = H x - b``::

        E |x|^2          = tr m2
        E L(x)           = tr(H m2)/2 - b^T m1 + L(0)
        E |grad L(x)|^2  = tr(H^2 m2) - 2 b^T H m1 + |b|^2
        E tr Sigma_B(x)  = f tr E Sigma_1(x)
    """
    H, b, loss0 = model.quadratic_form()
    first = np.asarray(first)
    second = np.asarray(second)
    m1 = first.reshape(-1, model.dim)
    m2 = second.reshape(-1, model.dim, model.dim)
    out = {
        "sq_norm": np.trace(m2, axis1=1, axis2=2),
        "loss": 0.5 * np.einsum("ij,kji->k", H, m2) - m1 @ b + loss0,
        "grad_sq_norm": np.einsum("ij,kji->k", H @ H, m2) - 2 * m1 @ (H @ b) + b @ b,
    }
    if hasattr(algorithm, "batch_size"):
        ones = np.ones(len(m1))
        out["noise_trace"] = _noise_factor(model, algorithm) * np.trace(
            model.expected_sigma1(ones, m1, m2), axis1=1, axis2=2
        )
    shape = first.shape[:-1]
    return {k: v.reshape(shape) for k, v in out.items()}


@dataclass(frozen=True)
class Moments:
    """Exact moments at the requested SDE times.

    Attributes
    ----------
    times : ndarray, shape (T,)
    first : ndarray, shape (T, d)
        E x.
    second : ndarray, shape (T, d, d)
        E x x^T.
    """

    model: object
    algorithm: Algorithm
    times: np.ndarray
    first: np.ndarray
    second: np.ndarray

    @property
    def cov(self):
        """Cov x = E x x^T - E x E x^T, shape (T, d, d)."""
        return self.second - self.first[:, :, None] * self.first[:, None, :]

    @property
    def observables(self):
        return tuple(quadratic_means(self.model, self.algorithm, self.first[:1], self.second[:1]))

    def mean(self, name):
        """Exact E g(x) over ``times`` for a quadratic observable ``name``."""
        return _lookup(quadratic_means(self.model, self.algorithm, self.first, self.second), name)


@dataclass(frozen=True)
class StationaryMoments:
    """The stationary first and second moments (fixed point of the moment map or ODE)."""

    model: object
    algorithm: Algorithm
    first: np.ndarray
    second: np.ndarray

    @property
    def cov(self):
        return self.second - np.outer(self.first, self.first)

    def mean(self, name):
        return float(_lookup(quadratic_means(self.model, self.algorithm, self.first, self.second), name))


def _lookup(table, name):
    if name not in table:
        raise ValueError(
            f"name must be one of the quadratic observables {tuple(table)}, got {name!r}; the first two "
            "moments do not determine others (norm4, gauss_bump): estimate them with toylab.simulate"
        )
    return table[name]


# ---------------------------------------------------------------------------
# public functions


def moments(model, algorithm: Algorithm, x0: ArrayLike, times: ArrayLike) -> Moments:
    """Exact E x and E x x^T at SDE ``times``, every path started at ``x0``.

    Parameters
    ----------
    model : LinearRegression, GaussianLinearRegression, NoisyQuadratic or a linear FiniteSum
    algorithm : SGD, SVAG, NGD, EulerMaruyama, GD or SDE
        SGD and NGD with ``momentum``: the moments of (x, b) evolve by the
        exact map ``_momentum_map``; those of x are returned.
    x0 : array, shape (d,)
    times : array of increasing SDE times >= 0; for a discrete algorithm each
        must be a whole number of its steps.

    Returns
    -------
    Moments
    """
    _check(model, algorithm)
    x0 = model.check_point(x0)
    d = model.dim
    if isinstance(algorithm, SDE):
        # imported here: scipy.linalg takes some 0.25 s to import, which
        # `import toylab` need not pay (Numba imports it when it loads a kernel)
        import scipy.linalg

        times = check_times(times)
        G = _matrix(_sde_rhs(model, algorithm), d)
        z = _pack(1.0, x0, np.outer(x0, x0))
        first, second, t_prev = [], [], 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            for t in times:
                z = scipy.linalg.expm(G * (t - t_prev)) @ z
                t_prev = t
                m1, m2 = _unpack(z, d)
                first.append(m1)
                second.append(m2)
        first, second = np.array(first), np.array(second)
        _check_finite(model, algorithm, times, second)
        return Moments(model, algorithm, times, first, second)

    times, steps = record_steps(times, algorithm.step_time, f"{type(algorithm).__name__} step_time")
    with np.errstate(over="ignore", invalid="ignore"):
        first, second = _discrete_moments(model, algorithm, x0, steps)
    _check_finite(model, algorithm, times, second)
    return Moments(model, algorithm, times, first, second)


def _check_finite(model, algorithm, times, second):
    """Moments that overflowed float64 are reported in words, naming the threshold, not as warnings."""
    bad = ~np.all(np.isfinite(second.reshape(len(second), -1)), axis=1)
    if not np.any(bad):
        return
    t = float(times[int(np.argmax(bad))])
    where = ""
    if hasattr(algorithm, "batch_size") and getattr(algorithm, "lr", None):
        try:
            if isinstance(algorithm, SDE):
                crit = critical_lr(model, algorithm.batch_size, sde=True, weight_decay=algorithm.weight_decay)
            else:
                crit = critical_lr(model, algorithm.batch_size, getattr(algorithm, "momentum", 0.0),
                                   weight_decay=algorithm.weight_decay)
            where = f"; its moments diverge for lr above {crit:.6g} (toylab.exact.critical_lr)"
        except ValueError:
            pass
    raise ValueError(
        f"the exact second moments of {type(algorithm).__name__}(lr={getattr(algorithm, 'lr', '?')}) on "
        f"{type(model).__name__} overflow float64 by SDE time {t:g}: the learning rate makes them grow without "
        f"bound{where}"
    )


def _discrete_moments(model, algorithm, x0, steps):
    d = model.dim
    if getattr(algorithm, "sampler", None) == "reshuffle":
        first, second = _reshuffle_moments(model, algorithm, x0, steps)
    else:
        # the state: x, or (x, b) with momentum (b starts at 0); the x block is reported
        step, n = _step_map(model, algorithm)
        z0 = np.concatenate([x0, np.zeros(n - d)])
        c, m1, m2 = np.ones(1), z0[None, :].copy(), np.outer(z0, z0)[None]
        first, second, k = [], [], 0
        for target in steps:
            while k < target:
                c, m1, m2 = step(c, m1, m2)
                k += 1
            first.append(m1[0, :d])
            second.append(_sym(m2[0, :d, :d]))
        first, second = np.array(first), np.array(second)
    return first, second


def stationary(model, algorithm: Algorithm) -> StationaryMoments:
    """Stationary E x, E x x^T and Cov x: the fixed point of the exact moment map.

    For a discrete algorithm, the fixed point of ``z -> T z`` exists when the
    spectral radius of T restricted to (m1, m2) is below 1; for the SDE, of
    ``dz/dt = G z`` when that restriction of G is Hurwitz.  On
    ``NoisyQuadratic`` these are the discrete Lyapunov equation
    ``S = A S A^T + q C / B`` and the continuous one
    ``(H + wd) S + S (H + wd) = lr C / B``.

    Raises
    ------
    ValueError
        If no stationary moments exist (unstable learning rate, a flat
        direction without weight decay), or under reshuffling, whose moments
        are periodic over an epoch rather than stationary per step.
    """
    _check(model, algorithm)
    d = model.dim
    if getattr(algorithm, "sampler", None) == "reshuffle":
        raise ValueError(
            "sampler 'reshuffle' has no per-step stationary moments (they are periodic over an epoch); "
            "use sampler='without_replacement' for its per-step marginal"
        )
    if isinstance(algorithm, SDE):
        G = _matrix(_sde_rhs(model, algorithm), d)
        Gmm, Gmc = G[1:, 1:], G[1:, 0]
        growth = np.max(np.linalg.eigvals(Gmm).real)
        if growth >= -1e-12:
            raise ValueError(
                f"the SDE has no stationary moments: its moment ODE has an eigenvalue with real part {growth:.3g} >= 0"
            )
        m = np.linalg.solve(-Gmm, Gmc)
    else:
        step, n = _step_map(model, algorithm)
        T = _matrix(step, n)
        Tmm, Tmc = T[1:, 1:], T[1:, 0]
        radius = np.max(np.abs(np.linalg.eigvals(Tmm)))
        if radius >= 1 - 1e-12:
            raise ValueError(
                f"{type(algorithm).__name__} has no stationary moments here: the moment map has spectral "
                f"radius {radius:.6g} >= 1 (learning rate too large, or a flat direction without weight decay)"
            )
        m = np.linalg.solve(np.eye(len(Tmm)) - Tmm, Tmc)
        # with momentum the state is (x, b): the x block
        m1, m2 = _unpack(np.concatenate([[1.0], m]), n)
        return StationaryMoments(model, algorithm, m1[:d], m2[:d, :d])
    first, second = _unpack(np.concatenate([[1.0], m]), d)
    return StationaryMoments(model, algorithm, first, second)


def _moment_growth(model, algorithm):
    """How fast the second moments grow: spectral radius of the map minus 1, or the ODE's largest real part."""
    if isinstance(algorithm, SDE):
        G = _matrix(_sde_rhs(model, algorithm), model.dim)
        return float(np.max(np.linalg.eigvals(G[1:, 1:]).real))
    step, n = _step_map(model, algorithm)
    return float(np.max(np.abs(np.linalg.eigvals(_matrix(step, n)[1:, 1:])))) - 1.0


def critical_lr(model, batch_size: int, momentum: float = 0.0, *, weight_decay: float = 0.0,
                sampler: str = "with_replacement", sde: bool = False, grid: int = 48) -> float:
    r"""The supremum of learning rates at which SGD's second moments stay bounded.

    The exact moment map ``T(lr)`` of SGD(lr, B, momentum) (on (x, b) with
    momentum) is linear in the moments; they stay bounded from every start
    exactly when its spectral radius is below 1.  At ``lr -> 0`` the radius
    tends to 1 from below (for ``H + wd`` positive definite), and at the
    curvature bound ``2 (1 + mu) / k_max`` of gradient descent (k_max the
    largest eigenvalue of ``H + wd``) it is at least 1: the multiplicative
    noise of the gradient can only push it past 1 earlier.  The critical
    learning rate is where the radius first reaches 1, located on a grid of
    ``grid`` learning rates and refined by Brent's method to machine
    precision.  On ``GaussianLinearRegression`` it equals the closed form of
    :func:`toylab.theory.gaussian_critical_lr` (tested to 1e-10); on
    ``NoisyQuadratic``, whose noise does not depend on x, it is the curvature
    bound itself.

    With ``sde=True``, the same for the SDE ``dX = -grad L dt +
    (lr Sigma_B)^{1/2} dW`` of SGD at the effective learning rate
    ``lr / (1 - mu)``, reported in units of SGD's lr: the first lr at which the
    moment ODE's generator has an eigenvalue with real part >= 0.  The SDE has
    no curvature bound, only the noise one, and ``inf`` is returned where the
    noise does not depend on x.

    Parameters
    ----------
    model : a linear model (LinearRegression, GaussianLinearRegression, NoisyQuadratic, linear FiniteSum)
    batch_size : int
    momentum : float in [0, 1)
    weight_decay : float
    sampler : 'with_replacement' or 'without_replacement'
    sde : bool

    Returns
    -------
    float
    """
    from scipy.optimize import brentq

    momentum = V.real("momentum", momentum, nonnegative=True)
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    weight_decay = V.real("weight_decay", weight_decay, nonnegative=True)
    grid = V.integer("grid", grid, minimum=2)
    if sampler == "reshuffle":
        raise ValueError("sampler 'reshuffle' has no per-step moment map (its moments are periodic over an epoch); "
                         "use 'with_replacement' or 'without_replacement'")

    def algorithm(lr):
        if sde:
            return SDE(lr / (1.0 - momentum), batch_size, weight_decay=weight_decay)
        return SGD(lr, batch_size, momentum=momentum, weight_decay=weight_decay, sampler=sampler)

    _check(model, algorithm(1.0))
    H = model.quadratic_form()[0]
    k = np.linalg.eigvalsh(0.5 * (H + H.T)) + weight_decay
    if k[0] <= 1e-12 * max(k[-1], 1e-300):
        raise ValueError(
            f"H + weight_decay of {type(model).__name__} is singular (smallest eigenvalue {k[0]:.3g}): a flat "
            "direction keeps the moment map's spectral radius at 1 for every lr; pass weight_decay > 0, or use a "
            "data set whose inputs span every direction"
        )
    growth = lambda lr: _moment_growth(model, algorithm(lr))  # noqa: E731
    if sde:
        # the noise term grows linearly in lr: double until the ODE has a growing mode
        hi, limit = 2.0 * (1.0 + momentum) / k[-1], 1e6 * (1.0 + momentum) / k[0]
        lo = 0.0
        while growth(hi) < 0:
            if hi > limit:
                return float("inf")
            lo, hi = hi, 2.0 * hi
        lrs = np.linspace(lo, hi, grid + 1)[1:]
    else:
        hi = 2.0 * (1.0 + momentum) / k[-1]
        lrs = hi * np.arange(1, grid + 1) / grid
    values = [growth(lr) for lr in lrs]
    first = next((i for i, g in enumerate(values) if g >= 0), len(lrs) - 1)
    if values[first] < 0 or (not sde and first == len(lrs) - 1 and abs(values[first]) <= 1e-12):
        # only the curvature bound, where the radius is exactly 1: noise that does not depend on x
        return float(lrs[-1])
    upper = lrs[first]
    lower = lrs[first - 1] if first else 0.0
    if lower == 0.0:
        # near lr = 0 the radius is 1 - O(lr): step down until it is below 1
        lower = upper / 2
        while growth(lower) >= 0:
            lower /= 2
    return float(brentq(growth, lower, upper, xtol=1e-15 * upper, rtol=4 * np.finfo(float).eps, maxiter=500))


# ---------------------------------------------------------------------------
# random reshuffling: moments carried jointly with the used part of the epoch


def _epoch_transitions(n, B):
    """States (used index sets of a partly walked epoch) and their transitions.

    From a used set S the next batch is a uniform B-subset of the unused
    indices; after ``n // B`` batches the epoch ends and S is reset.
    """
    per_epoch = n // B
    states = [frozenset(s) for k in range(per_epoch) for s in combinations(range(n), k * B)]
    index = {s: i for i, s in enumerate(states)}
    trans = []
    for s in states:
        free = [i for i in range(n) if i not in s]
        p = 1.0 / comb(len(free), B)
        for batch in combinations(free, B):
            nxt = s | set(batch)
            nxt = frozenset() if len(nxt) == per_epoch * B else frozenset(nxt)
            trans.append((index[s], index[nxt], p, batch))
    return len(states), trans


def _reshuffle_moments(model, algorithm, x0, steps):
    if not hasattr(model, "batch_affine"):  # pragma: no cover - only LinearRegression is finite and linear
        raise ValueError(f"sampler 'reshuffle' exact moments need a finite linear model, got {type(model).__name__}")
    n, B, d = model.n_samples, algorithm.batch_size, model.dim
    streams = algorithm.n_batches
    # Counted before anything is enumerated: sum over partly used epochs of
    # (used sets of size kB) x (next batches).
    per_stream = sum(comb(n, k * B) * comb(n - k * B, B) for k in range(n // B))
    total = per_stream**streams
    if total * d * d > RESHUFFLE_LIMIT:
        raise ValueError(
            f"sampler 'reshuffle' exact moments enumerate every partly walked epoch: n={n}, batch_size={B} "
            f"gives {total} transitions per step for {type(algorithm).__name__}, beyond the limit; use a "
            "smaller data set, or sampler='without_replacement'"
        )
    nstates, trans = _epoch_transitions(n, B)
    weights = algorithm.coefficients if isinstance(algorithm, SVAG) else (1.0,)
    affine = {t[3]: model.batch_affine(list(t[3])) for t in trans}
    src, dst, prob, Heff, beff = [], [], [], [], []
    for combo in product(trans, repeat=streams):
        src.append(sum(t[0] * nstates**j for j, t in enumerate(combo)))
        dst.append(sum(t[1] * nstates**j for j, t in enumerate(combo)))
        prob.append(np.prod([t[2] for t in combo]))
        Heff.append(sum(w * affine[t[3]][0] for w, t in zip(weights, combo)))
        beff.append(sum(w * affine[t[3]][1] for w, t in zip(weights, combo)))
    src, dst, prob = np.array(src), np.array(dst), np.array(prob)
    s = algorithm.step_time
    A = (1.0 - s * algorithm.weight_decay) * np.eye(d) - s * np.array(Heff)
    beff = np.array(beff)

    size = nstates**streams
    C = np.zeros(size)
    M1 = np.zeros((size, d))
    M2 = np.zeros((size, d, d))
    C[0], M1[0], M2[0] = 1.0, x0, np.outer(x0, x0)
    first, second, k = [], [], 0
    for target in steps:
        while k < target:
            c = C[src] * prob
            m1 = M1[src] * prob[:, None]
            m2 = M2[src] * prob[:, None, None]
            Am1 = np.einsum("tij,tj->ti", A, m1)
            m1n = Am1 + s * c[:, None] * beff
            m2n = (
                A @ m2 @ np.swapaxes(A, 1, 2)
                + s * (Am1[:, :, None] * beff[:, None, :] + beff[:, :, None] * Am1[:, None, :])
                + s * s * c[:, None, None] * beff[:, :, None] * beff[:, None, :]
            )
            C = np.bincount(dst, weights=c, minlength=size)
            M1 = np.zeros((size, d))
            M2 = np.zeros((size, d, d))
            np.add.at(M1, dst, m1n)
            np.add.at(M2, dst, m2n)
            k += 1
        first.append(M1.sum(axis=0))
        second.append(_sym(M2.sum(axis=0)))
    return np.array(first), np.array(second)
