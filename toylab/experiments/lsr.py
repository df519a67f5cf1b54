"""When the linear scaling rule fails: the paper's Theorem 5.6 and eq. (14) on a toy model.

From one baseline run of SGD at (B, eta) on a scale-invariant model with
weight decay, Theorem 5.6 (solved exactly, a sharper constant) predicts the largest kappa for which (C, kappa)-linear
scaling invariance can hold (``toylab.theory.lsr_kappa_max``, from the
baseline's G/N).  The experiment then runs SGD at (kappa B, kappa eta) for a
sweep of kappa and finds where the scaled equilibria stop being C-close to the
baseline in R, G and kappa-scaled N (Definition 5.1): the observed critical
batch size, to set beside the predicted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import theory
from ..algorithms import SGD
from ..ensemble import package_versions
from ..results import Result
from ._common import RunConfig, closeness_with_se, equilibrium_stats, simulate_config, window_average
from ._executor import run_sweep
from .equilibrium import STATS

__all__ = ["LsrResult", "lsr"]


@dataclass(frozen=True, eq=False)
class LsrResult(Result):
    """Equilibria of SGD at (kappa B, kappa eta) for each kappa (kappa = 1 is the baseline).

    ``closeness[i]`` is the smallest C for which run i is C-close to the
    baseline in (R, G, kappa N); ``closeness_low`` subtracts two standard
    errors.  ``kappa_max`` is Theorem 5.6's prediction (sharper constant) from the baseline;
    ``kappa_observed`` the largest kappa of the sweep whose equilibrium is
    still C-close (all smaller ones being so too).
    """

    _plotter = ("plot_lsr", False)

    kappas: np.ndarray
    batch_sizes: np.ndarray
    R: np.ndarray
    G: np.ndarray
    N: np.ndarray
    R_se: np.ndarray
    G_se: np.ndarray
    N_se: np.ndarray
    closeness: np.ndarray
    closeness_low: np.ndarray
    final_loss: np.ndarray
    C: float
    kappa_max: float
    kappa_observed: float
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def G_over_N(self):
        return self.G / self.N

    def critical_ratio(self, kappa):
        """Eq. (14) in its baseline form: the largest baseline G/N for (C, kappa)-invariance."""
        return theory.lsr_critical_ratio(kappa, self.C, self.config["lr"], self.config["weight_decay"])

    def summary(self):
        B = self.config["batch_size"]
        return (
            f"lsr: C^2 = {self.C ** 2:g}; baseline G/N = {self.G_over_N[0]:.3f}; predicted kappa_max = "
            f"{self.kappa_max:.2f} (batch {self.kappa_max * B:.3g}); observed: C-close up to kappa = "
            f"{self.kappa_observed:g} (batch {self.kappa_observed * B:g}); closeness by kappa: "
            + ", ".join(f"{k:g}: {c:.2f}" for k, c in zip(self.kappas, self.closeness))
        )


def lsr(model, lr: float, batch_size: int, weight_decay: float, *, x0, kappas=(1, 2, 4, 8, 16, 32), C=2**0.5, time=16.0,
        paths=1000, seed=0, backend="cpu", executor=None, progress=True) -> LsrResult:
    """Predicted and observed breakdown of the linear scaling rule.

    Parameters
    ----------
    model : SphereRegression
    lr, batch_size, weight_decay : the baseline SGD (with replacement)
    kappas : scalings to run (1, the baseline, is added if missing)
    C : closeness constant of Definition 5.1 (default sqrt 2, i.e. C^2 = 2)
    time : SDE time of each run (equilibrium statistics after the detected burn-in)

    Returns
    -------
    LsrResult
    """
    C = V.real("C", C)
    if C < 1:
        raise ValueError(f"C must be >= 1, got {C}")
    lr = V.real("lr", lr, positive=True)
    weight_decay = V.real("weight_decay", weight_decay, positive=True)
    kappas = sorted({1.0, *[V.real("kappas", k, positive=True) for k in kappas]})
    for k in kappas:
        if k * lr * weight_decay >= 2:
            raise ValueError(f"kappa={k:g}: kappa * lr * weight_decay must be < 2 for an equilibrium")
        if abs(k * batch_size - round(k * batch_size)) > 1e-9:
            raise ValueError(f"kappa={k:g}: kappa * batch_size must be a whole number")
    x0 = model.check_point(x0)
    configs = []
    for i, k in enumerate(kappas):
        step = k * lr
        times = step * np.arange(int(round(time / step)) + 1)
        configs.append(RunConfig(model, SGD(step, int(round(k * batch_size)), weight_decay=weight_decay), x0,
                                 times, paths, seed + i, backend))
    runs = run_sweep(simulate_config, configs, executor, label="lsr", progress=progress)
    stats, losses = [], []
    for e in runs:
        tb, _, window = equilibrium_stats(e, STATS)
        stats.append(window)
        losses.append(window_average(e, "loss", tb)[0])
    stats = np.array(stats)  # (K, 3, 2)
    R, G, N = stats[:, 0, 0], stats[:, 1, 0], stats[:, 2, 0]
    sR, sG, sN = stats[:, 0, 1], stats[:, 1, 1], stats[:, 2, 1]
    kap = np.array(kappas)
    closeness, low = [], []
    for i, k in enumerate(kap):
        a = np.array([R[i], G[i], k * N[i]])
        sa = np.array([sR[i], sG[i], k * sN[i]])
        c, se = closeness_with_se(a, sa, [R[0], G[0], N[0]], [sR[0], sG[0], sN[0]])
        closeness.append(c)
        low.append(c - 2 * se)
    closeness, low = np.array(closeness), np.array(low)
    observed = 1.0
    for k, c in zip(kap, closeness):
        if c > C:
            break
        observed = float(k)
    return LsrResult(
        kappas=kap, batch_sizes=kap * batch_size, R=R, G=G, N=N, R_se=sR, G_se=sG, N_se=sN,
        closeness=closeness, closeness_low=low, final_loss=np.array(losses), C=float(C),
        kappa_max=float(theory.lsr_kappa_max(G[0], N[0], C, lr, weight_decay)), kappa_observed=observed,
        config={"model": model.describe(), "lr": lr, "batch_size": int(batch_size), "weight_decay": weight_decay,
                "x0": x0.tolist(), "time": time, "paths": int(paths), "seed": int(seed), "backend": backend},
        versions=package_versions(),
    )
