"""Pieces the Monte Carlo experiments share: one simulation per configuration,
time averages with conservative standard errors, and burn-in detection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import theory
from ..simulate import simulate
from ._executor import run_sweep


@dataclass(frozen=True)
class RunConfig:
    """One independent simulation of a sweep (picklable, so it can run anywhere)."""

    model: object
    algorithm: object
    x0: np.ndarray
    times: np.ndarray
    paths: int
    seed: int
    backend: str


def simulate_config(cfg):
    """Run one :class:`RunConfig` (module level, so process pools and Dask can call it)."""
    return simulate(cfg.model, cfg.algorithm, cfg.x0, cfg.times, paths=cfg.paths, seed=cfg.seed,
                    backend=cfg.backend, progress=False)


def simulate_all(model, algorithms, x0, times, *, paths, seed, backend, executor, label, progress):
    """One :class:`RunConfig` per algorithm (run i seeded ``seed + i``), run through ``executor``."""
    configs = [RunConfig(model, alg, x0, times, paths, seed + i, backend) for i, alg in enumerate(algorithms)]
    return run_sweep(simulate_config, configs, executor, label=label, progress=progress)


def window_average(ensemble, name, start):
    """Mean of observable ``name`` over record times >= ``start`` and over paths.

    Returns ``(mean, stderr)``.  The standard error is the mean of the per-time
    standard errors, which bounds that of the time average whatever the
    correlation between record times (the standard deviation of a sum is at
    most the sum of the standard deviations).
    """
    sel = ensemble.times >= start - 1e-12
    return float(ensemble.mean(name)[sel].mean()), float(ensemble.stderr(name)[sel].mean())


def detect_burn_in(ensemble, names, burn_in=None, fractions=(0.25, 0.5, 0.75), z=4.0):
    """The first burn-in after which the run looks stationary; ``(burn_in, equilibrated)``.

    A candidate burn-in t_b passes when, for every observable, the means over
    the two halves of [t_b, T] agree within ``z`` (conservative) standard
    errors.  A given ``burn_in`` is only validated.
    """
    T = float(ensemble.times[-1])
    candidates = [burn_in] if burn_in is not None else [f * T for f in fractions]
    for tb in candidates:
        mid = 0.5 * (tb + T)
        ok = True
        for name in names:
            first = ensemble.times >= tb - 1e-12
            a_sel = first & (ensemble.times < mid)
            b_sel = ensemble.times >= mid
            if a_sel.sum() == 0 or b_sel.sum() == 0:
                ok = False
                break
            a, sa = ensemble.mean(name)[a_sel].mean(), ensemble.stderr(name)[a_sel].mean()
            b, sb = ensemble.mean(name)[b_sel].mean(), ensemble.stderr(name)[b_sel].mean()
            if abs(a - b) > z * (sa + sb):
                ok = False
                break
        if ok:
            return float(tb), True
    return float(candidates[-1] if burn_in is not None else 0.5 * T), False


def equilibrium_stats(ensemble, names, burn_in=None):
    """``(burn_in, equilibrated, [(mean, stderr) per name])`` over the window after the burn-in."""
    tb, ok = detect_burn_in(ensemble, names, burn_in)
    return tb, ok, [window_average(ensemble, name, tb) for name in names]


def ratio_se(a, sa, b, sb):
    """Standard error of a/b by the delta method (independent a, b)."""
    return abs(a / b) * math.hypot(sa / a if a else 0.0, sb / b)


def closeness_with_se(a, sa, b, sb):
    """The closeness of Definition 5.1 (``theory.closeness``) with its standard error.

    The closeness is ``max(a_j/b_j, b_j/a_j)`` over the pairs; its standard
    error is that of the maximising ratio r, by the delta method, divided by
    r^2 where the maximum is 1/r.
    """
    a, sa, b, sb = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, sa, b, sb))
    c = theory.closeness(a, b)
    j = int(np.argmax(np.maximum(a / b, b / a)))
    r = a[j] / b[j]
    se = ratio_se(a[j], sa[j], b[j], sb[j])
    return c, (se / r**2 if r < 1 else se)


def extrapolate_to_zero(x, y, se):
    """Weighted linear fit of ``y`` on ``x``, evaluated at ``x = 0``: ``(value, stderr)``.

    ``y`` and ``se`` have shape (K,) or (K, T) (one fit per column).  A column
    with no noise (every path still at x0) returns its first value exactly.
    With conservative standard errors the fit's covariance is itself conservative.
    """
    x = np.asarray(x, dtype=float)
    y, se = np.asarray(y, dtype=float), np.asarray(se, dtype=float)
    column = y.ndim == 1
    y, se = (y[:, None], se[:, None]) if column else (y, se)
    X = np.stack([np.ones_like(x), x], axis=1)
    values, errors = [], []
    for j in range(y.shape[1]):
        if not np.any(se[:, j] > 0):
            values.append(float(y[0, j]))
            errors.append(0.0)
            continue
        W = 1.0 / np.maximum(se[:, j], 1e-300) ** 2
        cov = np.linalg.inv(X.T @ (W[:, None] * X))
        beta = cov @ X.T @ (W * y[:, j])
        values.append(float(beta[0]))
        errors.append(float(math.sqrt(cov[0, 0])))
    if column:
        return values[0], errors[0]
    return np.array(values), np.array(errors)


def fit_slope(x, y, se, z=1.96):
    """Weighted least-squares slope of log y on log x, with a ``z``-sigma interval.

    ``se`` are standard errors of y; log y has standard error se/y.
    Returns ``(slope, half_width)``; needs at least 3 points for an interval
    (2 points give the slope and an interval from the propagated errors).
    """
    x, y, se = map(np.asarray, (x, y, se))
    lx, ly = np.log(x), np.log(y)
    w = y / np.maximum(se, 1e-300)  # 1 / stderr(log y)
    X = np.stack([lx, np.ones_like(lx)], axis=1)
    W = w**2
    cov = np.linalg.inv(X.T @ (W[:, None] * X))
    beta = cov @ X.T @ (W * ly)
    return float(beta[0]), float(z * math.sqrt(cov[0, 0]))
