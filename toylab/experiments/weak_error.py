"""Weak error of SVAG against the SDE (Theorem 4.3): exactly on linear models, by Monte Carlo on any."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import exact
from ..algorithms import SDE, SVAG
from ..ensemble import package_versions
from ..results import Result

__all__ = ["ExactWeakError", "exact_weak_error", "WeakError", "weak_error"]


@dataclass(frozen=True)
class ExactWeakError(Result):
    """Exact weak errors of SVAG(l) against the SDE, for each l.

    ``error[i] = |E g(x^{(l_i)}_{T l / lr}) - E g(X_T)|`` at the final time T;
    ``max_error[i]`` is the max over the record times ``times`` (the weak
    error of Theorem 4.3 on that grid).  Exact: no Monte Carlo error.
    """

    _plotter = ("plot_weak_error", False)

    ls: np.ndarray
    times: np.ndarray
    error: np.ndarray
    max_error: np.ndarray
    observable: str
    config: dict
    versions: dict

    @property
    def ratios(self):
        """error(l) / error(2 l) for consecutive l; Theorem 4.3 predicts -> 2 when l doubles."""
        return self.error[:-1] / self.error[1:]

    @property
    def scaled(self):
        """l x error(l): bounded and convergent under Theorem 4.3."""
        return self.ls * self.error

    def slope(self, last=4):
        """Least-squares slope of log error against log l over the last ``last`` points."""
        return float(np.polyfit(np.log(self.ls[-last:]), np.log(self.error[-last:]), 1)[0])

    def summary(self):
        ratios = ", ".join(f"{r:.4f}" for r in self.ratios)
        return (
            f"weak_error_exact [{self.observable}]: slope {self.slope():.4f} over the last "
            f"{min(4, len(self.ls))} l; error(l)/error(2l) = {ratios} (Theorem 4.3: -> 2); "
            f"errors at t = {self.times[-1]:g}: "
            + ", ".join(f"l={l:g}: {e:.3e}" for l, e in zip(self.ls, self.error))
            + ". Exact, on a linear model with a quadratic g: SVAG's first two moments are Euler-Maruyama's at "
            "dt = lr/l, so this is the rate of the moment ODE's discretisation; the non-Gaussian part of "
            "Theorem 4.3 shows on the sphere and with |x|^4 (toylab weak-error --observable norm4)"
        )


def exact_weak_error(model, lr: float, batch_size: int, ls, times, *, x0, observable: str = "loss",
                     weight_decay: float = 0.0) -> ExactWeakError:
    """Exact weak error of SVAG(l) against the SDE (Theorem 4.3) for each l in ``ls``.

    Parameters
    ----------
    model : a model with exact moments (LinearRegression, GaussianLinearRegression, NoisyQuadratic)
    lr, batch_size : SGD's hyperparameters (eta, B)
    ls : increasing values of l >= 1 (e.g. 1, 2, 4, ...)
    times : SDE times at which to compare; each a multiple of lr
    x0 : starting point
    observable : a quadratic observable (``"loss"``, ``"sq_norm"``, ...)

    Returns
    -------
    ExactWeakError
    """
    ls = np.asarray(ls, dtype=float)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    reference = exact.moments(model, SDE(lr, batch_size, weight_decay=weight_decay), x0, times).mean(observable)
    error, max_error = [], []
    for l in ls:
        svag = SVAG(lr, batch_size, float(l), weight_decay=weight_decay)
        diff = np.abs(exact.moments(model, svag, x0, times).mean(observable) - reference)
        error.append(diff[-1])
        max_error.append(diff.max())
    config = {
        "model": model.describe(),
        "lr": lr,
        "batch_size": batch_size,
        "weight_decay": weight_decay,
        "x0": np.asarray(x0, dtype=float).tolist(),
    }
    return ExactWeakError(
        ls=ls,
        times=times,
        error=np.array(error),
        max_error=np.array(max_error),
        observable=observable,
        config=config,
        versions=package_versions(),
    )


# ---------------------------------------------------------------------------
# Monte Carlo, for models without exact moments (SphereRegression)


@dataclass(frozen=True, eq=False)
class WeakError(Result):
    """Monte Carlo weak error of SVAG(l) and of Euler-Maruyama(dt) against the SDE.

    The SDE's E g(X_t) has two estimates: Euler-Maruyama at dt, dt/2, dt/4
    extrapolated linearly to dt -> 0 (``ref_em``), and SVAG at large l
    extrapolated linearly in 1/l (``ref_svag``); ``ref_gap`` is the largest
    distance between them over time in standard errors.  ``error[i]`` is
    ``max_t |E g(SVAG_l) - ref_em(t)|`` with standard error ``error_se[i]``
    (at the maximising time); the slope of log error on log l is fitted where
    the error stands clear of the noise (``fitted``: error > 3 s.e., and l >= ``fit_from``).

    The non-Gaussian gap: SGD and NGD (eq. 3, the same drift and noise
    covariance with Gaussian noise) have the same first two moments on a
    linear model, so a quadratic g sees no gap there; a test function of
    higher order (``norm4``, ``gauss_bump``) or a non-linear model does.
    ``sgd_mean``/``ngd_mean`` are their means of g at ``times``;
    ``gaussian_gap`` is ``max_t |E g(SGD) - E g(NGD)|`` with standard error
    ``gaussian_gap_se`` (at the maximising time).
    """

    _plotter = ("plot_weak_error_mc", True)

    ls: np.ndarray
    times: np.ndarray
    observable: str
    svag_mean: np.ndarray
    svag_se: np.ndarray
    dts: np.ndarray
    em_mean: np.ndarray
    em_se: np.ndarray
    ref_em: np.ndarray
    ref_em_se: np.ndarray
    ref_svag: np.ndarray
    ref_svag_se: np.ndarray
    ref_gap: float
    error: np.ndarray
    error_se: np.ndarray
    fitted: np.ndarray
    slope: float
    slope_ci: float
    em_error: np.ndarray
    em_error_se: np.ndarray
    sgd_mean: np.ndarray
    sgd_se: np.ndarray
    ngd_mean: np.ndarray
    ngd_se: np.ndarray
    gaussian_gap: float
    gaussian_gap_se: float
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def summary(self):
        used = ", ".join(f"{l:g}" for l in self.ls[self.fitted])
        if np.isfinite(self.slope):
            fit = f"slope {self.slope:.3f} +- {self.slope_ci:.3f} (fitted on l = {used})"
        else:
            fit = (f"slope not resolved at this path count ({int(np.sum(self.fitted))} of {len(self.ls)} errors "
                   "stand clear of the noise; 2 are needed)")
        return (
            f"weak_error [{self.observable}]: {fit}; "
            f"errors " + ", ".join(f"l={l:g}: {e:.2e}+-{s:.1e}" for l, e, s in zip(self.ls, self.error, self.error_se))
            + f"; references (EM dt->0, SVAG l->inf) differ by at most {self.ref_gap:.1f} s.e."
            + f"; non-Gaussian gap max_t |E g(SGD) - E g(NGD)| = {self.gaussian_gap:.2e} +- "
            f"{self.gaussian_gap_se:.1e} ({self.gaussian_gap / self.gaussian_gap_se:.1f} s.e.)"
        )


def _max_error(mean, se, ref, ref_se):
    diff = np.abs(mean[1:] - ref[1:])  # t = 0 is the common start
    k = int(np.argmax(diff))
    return float(diff[k]), float(np.hypot(se[1:][k], ref_se[1:][k]))


def weak_error(model, lr: float, batch_size: int, ls=(1, 2, 4, 8, 16), time: float = 2.0, *, x0, observable="loss", weight_decay=0.0,
               dt=None, ref_ls=(64, 128), fit_from=2, paths=20_000, seed=0, backend="cpu", executor=None,
               progress=True) -> WeakError:
    """Weak error of SVAG(l) against the SDE by Monte Carlo (Theorem 4.3), for any model.

    Parameters
    ----------
    model : e.g. SphereRegression, where the non-Gaussian gap is visible
    lr, batch_size, weight_decay : SGD's hyperparameters
    ls : SVAG parameters to measure
    time : SDE horizon; statistics at every multiple of lr
    observable : built-in observable (``"loss"``, bounded and smooth on the sphere; ``"sq_norm"``;
        ``"norm4"`` |x|^4 and ``"gauss_bump"`` exp(-|x|^2/2), which see the non-Gaussian gap and
        the SVAG/Euler-Maruyama difference on linear models too; see ``toylab.BUILTIN_OBSERVABLES``),
        or a sequence of them, measured on the same runs
    dt : finest-but-two Euler-Maruyama step of the reference (default lr/8; also dt/2, dt/4)
    ref_ls : large l for the second reference (extrapolated in 1/l)
    fit_from : smallest l in the slope fit (error = c/l + O(1/l^2): the smallest l carry the
        second-order term)
    paths, seed, backend, executor, progress : as for the other experiments (run i uses seed + i)

    Returns
    -------
    WeakError, or a tuple of them (one per observable) when ``observable`` is a sequence
    """
    from .. import _validate as V
    from ..algorithms import NGD, SGD, SVAG, EulerMaruyama
    from ..simulate import BUILTIN_OBSERVABLES
    from ._common import simulate_all

    lr = V.real("lr", lr, positive=True)
    time = V.real("time", time, positive=True)
    x0 = model.check_point(x0)
    dt = lr / 8 if dt is None else V.real("dt", dt, positive=True)
    dts = np.array([dt, dt / 2, dt / 4])
    ls = np.asarray(ls, dtype=float)
    ref_ls = np.asarray(ref_ls, dtype=float)
    if np.any(ls < 1) or np.any(ref_ls < 1):
        raise ValueError("ls and ref_ls must be >= 1")
    names = (observable,) if isinstance(observable, str) else tuple(observable)
    if not names or any(g not in BUILTIN_OBSERVABLES for g in names):
        raise ValueError(f"observable must be one of {BUILTIN_OBSERVABLES} or a sequence of them, got {observable!r}")
    times = lr * np.arange(int(round(time / lr)) + 1)
    algs = [SVAG(lr, batch_size, l, weight_decay=weight_decay) for l in ls]
    algs += [SVAG(lr, batch_size, l, weight_decay=weight_decay) for l in ref_ls]
    algs += [EulerMaruyama(lr, batch_size, h, weight_decay=weight_decay) for h in dts]
    # SGD is SVAG(l = 1) bit for bit: that run serves when l = 1 is measured
    sgd_index = int(np.flatnonzero(ls == 1)[0]) if np.any(ls == 1) else len(algs)
    if sgd_index == len(algs):
        algs.append(SGD(lr, batch_size, weight_decay=weight_decay))
    algs.append(NGD(lr, batch_size, weight_decay=weight_decay))
    runs = simulate_all(model, algs, x0, times, paths=paths, seed=seed, backend=backend, executor=executor,
                        label="weak_error", progress=progress)
    config = {"model": model.describe(), "lr": lr, "batch_size": int(batch_size), "weight_decay": weight_decay,
              "x0": x0.tolist(), "ref_ls": ref_ls.tolist(), "paths": int(paths), "seed": int(seed),
              "backend": backend}
    out = tuple(_from_runs(runs, g, ls, ref_ls, dts, times, sgd_index, fit_from, config) for g in names)
    return out[0] if isinstance(observable, str) else out


def _from_runs(runs, observable, ls, ref_ls, dts, times, sgd_index, fit_from, config):
    """One observable's WeakError from the runs of :func:`weak_error` (SVAG ls, SVAG ref_ls, EM dts, [SGD], NGD)."""
    from ._common import extrapolate_to_zero, fit_slope

    mean = np.array([e.mean(observable) for e in runs])
    se = np.array([e.stderr(observable) for e in runs])
    nl, nr = len(ls), len(ref_ls)
    svag_mean, svag_se = mean[:nl], se[:nl]
    em_mean, em_se = mean[nl + nr : nl + nr + 3], se[nl + nr : nl + nr + 3]
    sgd_mean, sgd_se, ngd_mean, ngd_se = mean[sgd_index], se[sgd_index], mean[-1], se[-1]
    gap, gap_se = _max_error(sgd_mean, sgd_se, ngd_mean, ngd_se)
    ref_em, ref_em_se = extrapolate_to_zero(dts, em_mean, em_se)
    ref_svag, ref_svag_se = extrapolate_to_zero(1.0 / ref_ls, mean[nl : nl + nr], se[nl : nl + nr])
    ref_gap = np.abs(ref_em - ref_svag)[1:] / np.hypot(ref_em_se, ref_svag_se)[1:]
    errs = [_max_error(svag_mean[i], svag_se[i], ref_em, ref_em_se) for i in range(nl)]
    error, error_se = np.array([e for e, _ in errs]), np.array([s for _, s in errs])
    em_errs = [_max_error(em_mean[i], em_se[i], ref_em, ref_em_se) for i in range(len(dts))]
    fitted = (error > 3 * error_se) & (ls >= fit_from)
    slope, ci = fit_slope(ls[fitted], error[fitted], error_se[fitted]) if fitted.sum() >= 2 else (np.nan, np.nan)
    return WeakError(
        ls=ls, times=times, observable=observable, svag_mean=svag_mean, svag_se=svag_se, dts=dts,
        em_mean=em_mean, em_se=em_se, ref_em=ref_em, ref_em_se=ref_em_se, ref_svag=ref_svag,
        ref_svag_se=ref_svag_se, ref_gap=float(ref_gap.max()), error=error, error_se=error_se, fitted=fitted,
        slope=float(slope), slope_ci=float(ci), em_error=np.array([e for e, _ in em_errs]),
        em_error_se=np.array([s for _, s in em_errs]), sgd_mean=sgd_mean, sgd_se=sgd_se, ngd_mean=ngd_mean,
        ngd_se=ngd_se, gaussian_gap=gap, gaussian_gap_se=gap_se,
        config=dict(config),
        versions=package_versions(),
    )
