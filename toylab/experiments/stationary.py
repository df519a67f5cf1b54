"""Stationary covariance of discrete-time SGD and SVAG against the SDE's, exactly.

Liu, Ziyin & Ueda (2021): the stationary fluctuations of SGD at finite eta are
larger than those of its SDE.  On ``NoisyQuadratic`` (constant noise C/B) the
stationary covariances solve, with ``K = H + wd``,

* SDE (6):       ``K S + S K = eta C/B``                        (continuous Lyapunov)
* SVAG(l):       ``K S + S K - (eta/l) K S K = eta C/B``        (discrete, step eta/l)

so SGD (l = 1) exceeds the SDE by ``Delta = S_SGD - S_SDE`` solving
``K Delta + Delta K = eta K S_SGD K``.  Along every eigenvector u of K
(eigenvalue k), for any C, ``u^T S u`` of SGD over the SDE's is exactly
``1/(1 - eta k/2)`` (project both equations on u: only ``u^T C u`` enters),
and SVAG closes the gap as ``1/(1 - eta k/(2l))``; commuting K and C only
matter for the matrix identity ``S_SGD = S_SDE (I - eta K/2)^{-1}``.  The
trace ratio mixes the per-direction ratios.  On ``GaussianLinearRegression`` the noise depends on x
and the moment maps of ``toylab.exact`` give the stationary moments exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from .. import _validate as V
from .. import exact
from ..algorithms import SDE, SGD, SVAG
from ..ensemble import package_versions
from ..results import Result

__all__ = ["StationaryResult", "stationary", "lyapunov_covariances"]


@dataclass(frozen=True, eq=False)
class StationaryResult(Result):
    """Traces of the exact stationary covariances across learning rates.

    Attributes
    ----------
    lrs : (E,) learning rates eta
    ls : (L,) SVAG parameters
    trace_sgd, trace_sde : (E,) tr Cov x at stationarity
    trace_svag : (L, E)
    predicted_ratio : (E,) tr S_SGD / tr S_SDE from the Lyapunov solves
        (NoisyQuadratic only; NaN otherwise)
    curvatures : (d,) eigenvalues k of H + wd, for the closed form 1/(1 - eta k/2)
        per eigen-direction
    """

    _plotter = ("plot_stationary", False)

    lrs: np.ndarray
    ls: np.ndarray
    trace_sgd: np.ndarray
    trace_sde: np.ndarray
    trace_svag: np.ndarray
    predicted_ratio: np.ndarray
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    curvatures: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def direction_ratio(self, l=1.0):
        """(d, E): the closed form 1/(1 - eta k/(2l)) along each eigenvector of H + wd (any C)."""
        return 1.0 / (1.0 - self.lrs[None, :] * self.curvatures[:, None] / (2.0 * l))

    @property
    def ratio(self):
        """tr S_SGD / tr S_SDE: how much larger the discrete fluctuations are."""
        return self.trace_sgd / self.trace_sde

    @property
    def svag_ratio(self):
        """tr S_SVAG(l) / tr S_SDE, shape (L, E): tends to 1 as l grows."""
        return self.trace_svag / self.trace_sde

    def summary(self):
        i = int(np.argmax(self.lrs))
        return (
            f"stationary: at lr = {self.lrs[i]:g}, tr Cov(SGD)/tr Cov(SDE) = {self.ratio[i]:.4f}"
            + (f" (Lyapunov: {self.predicted_ratio[i]:.4f})" if np.isfinite(self.predicted_ratio[i]) else "")
            + "; SVAG: "
            + ", ".join(f"l={l:g} {r:.4f}" for l, r in zip(self.ls, self.svag_ratio[:, i]))
        )


def lyapunov_covariances(H, C, lr: float, batch_size: int, l: float = 1.0,
                         weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form stationary covariances on NoisyQuadratic: ``(S_SVAG(l), S_SDE)``.

    ``S_SVAG`` solves ``S = A S A^T + (lr^2/l) C/B`` with ``A = I - (lr/l)(H + wd)``
    (SGD for l = 1); ``S_SDE`` solves ``K S + S K = lr C/B``.
    """
    d = len(H)
    K = np.asarray(H, dtype=float) + weight_decay * np.eye(d)
    noise = np.asarray(C, dtype=float) / batch_size
    A = np.eye(d) - (lr / l) * K
    discrete = scipy.linalg.solve_discrete_lyapunov(A, (lr**2 / l) * noise)
    continuous = scipy.linalg.solve_continuous_lyapunov(K, lr * noise)
    return discrete, continuous


def stationary(model, lrs, batch_size: int, ls=(2, 4, 8, 16), *, weight_decay: float = 0.0) -> StationaryResult:
    """Exact stationary covariance of SGD, SVAG(l) and the SDE for each learning rate.

    Parameters
    ----------
    model : NoisyQuadratic or GaussianLinearRegression (any model with exact moments)
    lrs : learning rates, each below the stability limit of SGD's moment map
    batch_size : B
    ls : SVAG parameters

    Returns
    -------
    StationaryResult
    """
    lrs = V.as_array("lrs", lrs, ndim=1)
    if np.any(lrs <= 0):
        raise ValueError("lrs must be positive")
    ls = V.as_array("ls", ls, ndim=1)
    if np.any(ls < 1):
        raise ValueError("ls must be >= 1")
    tr = lambda alg: float(np.trace(exact.stationary(model, alg).cov))  # noqa: E731
    trace_sgd = np.array([tr(SGD(lr, batch_size, weight_decay=weight_decay)) for lr in lrs])
    trace_sde = np.array([tr(SDE(lr, batch_size, weight_decay=weight_decay)) for lr in lrs])
    trace_svag = np.array([[tr(SVAG(lr, batch_size, l, weight_decay=weight_decay)) for lr in lrs] for l in ls])
    predicted = np.full(len(lrs), np.nan)
    if type(model).__name__ == "NoisyQuadratic":
        for i, lr in enumerate(lrs):
            s_d, s_c = lyapunov_covariances(model.H, model.C, lr, batch_size, weight_decay=weight_decay)
            predicted[i] = np.trace(s_d) / np.trace(s_c)
    return StationaryResult(
        lrs=lrs,
        ls=ls,
        trace_sgd=trace_sgd,
        trace_sde=trace_sde,
        trace_svag=trace_svag,
        predicted_ratio=predicted,
        curvatures=np.linalg.eigvalsh(model.quadratic_form()[0]) + weight_decay,
        config={"model": model.describe(), "batch_size": int(batch_size), "weight_decay": float(weight_decay)},
        versions=package_versions(),
    )
