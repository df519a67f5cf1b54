"""Weak error of SVAG against the SDE (Theorem 4.3), exactly on linear models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import exact
from ..algorithms import SDE, SVAG
from ..ensemble import package_versions
from ..results import Result

__all__ = ["ExactWeakError", "exact_weak_error"]


@dataclass(frozen=True)
class ExactWeakError(Result):
    """Exact weak errors of SVAG(l) against the SDE, for each l.

    ``error[i] = |E g(x^{(l_i)}_{T l / lr}) - E g(X_T)|`` at the final time T;
    ``max_error[i]`` is the max over the record times ``times`` (the weak
    error of Theorem 4.3 on that grid).  Exact: no Monte Carlo error.
    """

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


def exact_weak_error(model, lr, batch_size, ls, times, *, x0, observable="loss", weight_decay=0.0):
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
