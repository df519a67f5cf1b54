"""Noise- and curvature-dominated regimes of the best learning rate (Smith et al., 2020).

On ``LinearRegression`` with a fixed budget, the final loss of SGD is
computed exactly (``toylab.exact``) over an eta x B grid.  Three budgets:

* epochs E: B-batch SGD takes E n / B steps, i.e. SDE time E n eta / B.  For
  small batches the best eta grows linearly with B (the noise-dominated
  regime, where SGD follows its SDE, whose time and noise eta/B are both fixed
  by eta/B); for large batches it saturates below the stability limit
  ``2/lambda_max(H)`` (the curvature-dominated regime).
* steps K: SDE time K eta grows with eta, the SDE's noise eta/B too; the best
  eta grows with B and saturates likewise.
* SDE time T: T / eta steps.  In the noise-dominated regime the final loss
  depends on eta/B alone and increases with it (more noise, no more time), so
  the best eta sits at the smallest eta of the grid and the losses of different
  B collapse onto one curve of eta/B; the curvature-dominated regime shows as
  the departure from that curve.

Beside it the noise scale of McCandlish et al. (2018, "An empirical model of
large-batch training"),

    B_noise = tr(H Sigma_1(x)) / (grad L(x)^T H grad L(x)),

evaluated at the start x0 only (the noise and the gradient change along the
run).  It sets the order of the crossover, not its place: the measured
crossover (:attr:`RegimesResult.crossover`, where the small-batch line
eta proportional to B reaches the largest best eta) lies at about 4.5 B_noise
on the demo regression under the 2-epoch budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import exact
from ..algorithms import SGD
from ..ensemble import package_versions
from ..results import Result
from ._executor import run_sweep

__all__ = ["RegimesResult", "regimes", "noise_scale"]


def noise_scale(model, x) -> float:
    """``B_noise = tr(H Sigma_1(x)) / (grad L^T H grad L)`` at x (McCandlish et al., 2018)."""
    H = model.quadratic_form()[0]
    g = model.grad(x)
    return float(np.trace(H @ model.sigma1(x)) / (g @ H @ g))


@dataclass(frozen=True, eq=False)
class RegimesResult(Result):
    """Exact final losses on an eta x B grid and the best eta per batch size.

    Attributes
    ----------
    batch_sizes : (NB,)
    lrs : (NE,) the eta grid
    final_loss : (NB, NE) exact E L(x) after the budget (inf where SGD's moments diverge)
    n_steps : (NB, NE) SGD steps the budget gives each (B, eta)
    best_lr : (NB,) eta minimising the final loss (refined by a parabola in log eta)
    b_noise : McCandlish et al.'s noise scale at x0
    lr_limit : 2 / lambda_max(H + wd)
    """

    _plotter = ("plot_regimes", False)

    batch_sizes: np.ndarray
    lrs: np.ndarray
    final_loss: np.ndarray
    n_steps: np.ndarray
    best_lr: np.ndarray
    b_noise: float
    lr_limit: float
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def at_edge(self):
        """(NB,) bool: the best eta is the grid's smallest or largest value, so the optimum may lie outside it."""
        lo, hi = self.lrs.min(), self.lrs.max()
        return np.isclose(self.best_lr, lo, rtol=1e-12) | np.isclose(self.best_lr, hi, rtol=1e-12)

    @property
    def crossover(self):
        """The measured crossover batch size: where the line through the smallest batch's best eta,
        proportional to B, reaches the largest best eta (NaN when an end of the line is at the grid's edge)."""
        if self.at_edge[0] or len(self.batch_sizes) < 2:
            return float("nan")
        return float(self.batch_sizes[0] * np.max(self.best_lr) / self.best_lr[0])

    def summary(self):
        pairs = ", ".join(f"B={b:g}: {lr:.3g}" + (" (grid edge)" if e else "")
                          for b, lr, e in zip(self.batch_sizes, self.best_lr, self.at_edge))
        budget = ", ".join(f"{k} = {v:g}" for k, v in self.config["budget"].items())
        text = (f"regimes ({budget}): best lr {pairs}; B_noise (McCandlish et al., at x0) = {self.b_noise:.3g}; "
                f"2/lambda_max = {self.lr_limit:.3g}")
        if np.isfinite(self.crossover):
            text += f"; measured crossover B = {self.crossover:.3g} = {self.crossover / self.b_noise:.2f} B_noise"
        if np.any(self.at_edge):
            text += ("; a best lr at the grid's edge is a bound, not an optimum (under a budget of SDE time the "
                     "final loss grows with lr/B in the noise regime, so the smallest lr wins: pass smaller lrs "
                     "to see where it stops)" if "time" in self.config["budget"] else
                     "; a best lr at the grid's edge is a bound, not an optimum: widen the grid (lrs=)")
        return text


def _final_loss(args):
    model, lr, B, steps, x0, wd = args
    try:
        m = exact.moments(model, SGD(lr, B, weight_decay=wd), x0, [steps * lr])
        value = float(m.mean("loss")[0])
    except (FloatingPointError, ValueError):
        return np.inf
    return value if np.isfinite(value) else np.inf


def _refine(lrs, losses):
    """argmin on the grid, refined by the vertex of a parabola through three points in log eta."""
    i = int(np.argmin(losses))
    if 0 < i < len(lrs) - 1 and np.all(np.isfinite(losses[i - 1 : i + 2])):
        x = np.log(lrs[i - 1 : i + 2])
        a, b, _ = np.polyfit(x, losses[i - 1 : i + 2], 2)
        if a > 0:
            return float(np.exp(np.clip(-b / (2 * a), x[0], x[2])))
    return float(lrs[i])


def regimes(model, batch_sizes, *, epochs=None, steps=None, time=None, lrs=None, x0=None, weight_decay=0.0,
            executor=None, progress=True) -> RegimesResult:
    """Best learning rate against batch size for a fixed budget of epochs, steps or SDE time, exactly.

    Parameters
    ----------
    model : LinearRegression
    batch_sizes : increasing batch sizes (with replacement)
    epochs, steps, time : the budget, at most one (default ``epochs=2``): B-batch SGD at
        learning rate eta takes ``round(epochs n / B)``, ``steps`` or ``round(time / eta)`` steps
        (at least one)
    lrs : the eta grid (default: 48 log-spaced values up to the stability limit)
    x0 : start (default 0)
    executor : toylab.experiments.Executor for the grid (default serial)

    Returns
    -------
    RegimesResult
    """
    if not getattr(model, "finite", False) or not getattr(model, "has_exact_moments", False):
        raise TypeError(f"model must be a LinearRegression (finite, exact moments), got {type(model).__name__}")
    batch_sizes = np.asarray([V.integer("batch_sizes", b, minimum=1) for b in np.atleast_1d(batch_sizes)])
    given = {k: v for k, v in (("epochs", epochs), ("steps", steps), ("time", time)) if v is not None}
    if len(given) > 1:
        raise ValueError(f"give at most one budget of epochs, steps and time, got {sorted(given)}")
    budget_name, budget = next(iter(given.items())) if given else ("epochs", 2.0)
    if budget_name == "steps":
        budget = V.integer("steps", budget, minimum=1)
    else:
        budget = V.real(budget_name, budget, positive=True)
    H = model.quadratic_form()[0]
    lr_limit = 2.0 / (np.linalg.eigvalsh(H)[-1] + weight_decay)
    lrs = np.geomspace(lr_limit / 300, lr_limit * 0.999, 48) if lrs is None else V.as_array("lrs", lrs, ndim=1)
    if np.any(lrs <= 0):
        raise ValueError("lrs must be positive")
    x0 = np.zeros(model.dim) if x0 is None else model.check_point(x0)
    n = model.n_samples

    def n_steps(lr, B):
        if budget_name == "epochs":
            return max(1, round(budget * n / B))
        return budget if budget_name == "steps" else max(1, round(budget / lr))

    configs = [(model, float(lr), int(B), n_steps(lr, B), x0, weight_decay) for B in batch_sizes for lr in lrs]
    with np.errstate(all="ignore"):
        losses = np.array(run_sweep(_final_loss, configs, executor, label="regimes", progress=progress))
    final_loss = losses.reshape(len(batch_sizes), len(lrs))
    best = np.array([_refine(lrs, row) for row in final_loss])
    return RegimesResult(
        batch_sizes=batch_sizes.astype(float),
        lrs=np.asarray(lrs, dtype=float),
        final_loss=final_loss,
        n_steps=np.array([c[3] for c in configs]).reshape(final_loss.shape),
        best_lr=best,
        b_noise=noise_scale(model, x0),
        lr_limit=float(lr_limit),
        config={"model": model.describe(), "budget": {budget_name: budget}, "weight_decay": weight_decay, "x0": x0.tolist()},
        versions=package_versions(),
    )
