"""The strength of minibatch noise: the critical learning rate and the stationary loss.

Ziyin, Liu, Mori & Ueda ("Strength of minibatch noise in SGD", ICLR 2022):
near a minimum of a square loss the minibatch noise grows with the distance
to the minimum, and at small batch sizes that multiplicative noise, not the
curvature, limits the learning rate.  On a linear model the second moments
of SGD evolve by an exact linear map (``toylab.exact``), so

* the critical learning rate, where the map's spectral radius reaches 1, is
  exact (:func:`toylab.exact.critical_lr`), and on
  ``GaussianLinearRegression`` in closed form
  (:func:`toylab.theory.gaussian_critical_lr`): at B = 1 far below the
  curvature bound ``2 / h_max`` of gradient descent;
* the stationary loss E L of SGD and of its SDE are exact
  (:func:`toylab.exact.stationary`; closed form
  :func:`toylab.theory.gaussian_stationary`), and SGD's exceeds the SDE's
  by more the closer lr is to SGD's threshold.

Monte Carlo points from the simulators check the exact curves: each is the
mean loss after enough steps for the exact moments to have converged (the
exact E L at that step is stored beside it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import exact, theory
from ..algorithms import SDE, SGD
from ..ensemble import package_versions
from ..results import Result
from ._common import RunConfig, simulate_config
from ._executor import run_sweep

__all__ = ["NoiseResult", "noise", "settle_steps"]

#: The exact transient's relative distance to the stationary value at a Monte Carlo point.
SETTLE = 1e-4


@dataclass(frozen=True, eq=False)
class NoiseResult(Result):
    """Critical learning rates against B and the stationary loss against lr.

    Attributes
    ----------
    batch_sizes : (K,) batch sizes B of the critical learning rates
    critical_sgd, critical_sde : (K,) exact thresholds (from the moment maps)
    closed_sgd, closed_sde : (K,) the closed forms on GaussianLinearRegression (NaN on other models)
    curvature_bound : 2 / h_max, gradient descent's threshold
    curve_batch_sizes : (J,) batch sizes of the stationary-loss curves
    lrs : (J, E) learning rates, below each B's critical_sgd
    loss_sgd, loss_sde : (J, E) exact stationary E L of SGD and of its SDE
    loss_closed : (J, E) the closed form of SGD's (NaN off GaussianLinearRegression)
    mc_lrs : (J, P) learning rates of the Monte Carlo points
    mc_steps : (J, P) SGD steps of each point's run, from the minimum
    mc_loss, mc_stderr : (J, P) Monte Carlo mean loss at the last step and its standard error
    mc_exact : (J, P) exact E L at that step
    mc_diverged : (J, P) paths that diverged (counted, not averaged in)
    """

    _plotter = ("plot_noise", True)

    batch_sizes: np.ndarray
    critical_sgd: np.ndarray
    critical_sde: np.ndarray
    closed_sgd: np.ndarray
    closed_sde: np.ndarray
    curvature_bound: float
    curve_batch_sizes: np.ndarray
    lrs: np.ndarray
    loss_sgd: np.ndarray
    loss_sde: np.ndarray
    loss_closed: np.ndarray
    mc_lrs: np.ndarray
    mc_steps: np.ndarray
    mc_loss: np.ndarray
    mc_stderr: np.ndarray
    mc_exact: np.ndarray
    mc_diverged: np.ndarray
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def mc_z(self):
        """(Monte Carlo - exact) / standard error at each point."""
        return (self.mc_loss - self.mc_exact) / self.mc_stderr

    @property
    def excess(self):
        """SGD's stationary E L over the SDE's, shape (J, E)."""
        return self.loss_sgd / self.loss_sde

    def summary(self):
        k = [int(np.argmin(self.batch_sizes)), int(np.argmax(self.batch_sizes))]
        crit = "; ".join(
            f"B={self.batch_sizes[i]:g}: SGD {self.critical_sgd[i]:.4g}, SDE {self.critical_sde[i]:.4g}"
            for i in k
        )
        j, e = 0, int(self.lrs.shape[1]) - 1
        return (
            f"noise [{self.config.get('model', '')}]: critical lr {crit}; 2/h_max = {self.curvature_bound:.4g}. "
            f"At B={self.curve_batch_sizes[j]:g}, lr={self.lrs[j, e]:.4g}: stationary E L "
            f"SGD {self.loss_sgd[j, e]:.4g} vs SDE {self.loss_sde[j, e]:.4g} (x{self.excess[j, e]:.3f}). "
            f"Monte Carlo: largest |mean - exact| = {np.max(np.abs(self.mc_z)):.2f} standard errors over "
            f"{self.mc_z.size} points, {int(np.sum(self.mc_diverged))} paths diverged"
        )


def settle_steps(model, algorithm, x0, tol=SETTLE, minimum=20):
    """Steps after which the exact E L from ``x0`` is within ``tol`` (relative) of its stationary value.

    The moments converge geometrically at the moment map's spectral radius
    rho; the bound ``log(tol) / log(rho)`` is then checked against the exact
    transient and doubled until it holds.
    """
    rho = 1.0 + exact._moment_growth(model, algorithm)
    target = exact.stationary(model, algorithm).mean("loss")
    steps = max(minimum, math.ceil(math.log(tol) / math.log(rho)))
    for _ in range(8):
        value = exact.moments(model, algorithm, x0, [steps * algorithm.step_time]).mean("loss")[0]
        if abs(value - target) <= tol * abs(target):
            return steps
        steps *= 2
    return steps


def check_sweep(model, n_lrs, mc_fractions, paths):
    """Validate the arguments the exact sweeps (``noise``, ``momentum``) share; returns them converted."""
    if not getattr(model, "has_exact_moments", False):
        raise ValueError(f"model must be linear (exact moments), got {type(model).__name__}")
    n_lrs = V.integer("n_lrs", n_lrs, minimum=2)
    mc_fractions = V.as_array("mc_fractions", mc_fractions, ndim=1)
    if np.any(mc_fractions <= 0) or np.any(mc_fractions >= 1):
        raise ValueError(f"mc_fractions must lie in (0, 1), got {mc_fractions}")
    return n_lrs, mc_fractions, V.integer("paths", paths, minimum=2)


def last_records(runs, name, shape):
    """Mean, standard error and diverged count of ``name`` at each run's last record, shaped ``shape``."""
    mean = np.array([ens.mean(name)[-1] for ens in runs]).reshape(shape)
    stderr = np.array([ens.stderr(name)[-1] for ens in runs]).reshape(shape)
    diverged = np.array([int(ens.diverged[-1]) for ens in runs]).reshape(shape)
    return mean, stderr, diverged


def _minimum(model):
    H, b, _ = model.quadratic_form()
    return np.linalg.solve(H, b)


def noise(
    model,
    batch_sizes=(1, 2, 4, 8, 16, 32, 64),
    curve_batch_sizes=(1, 4, 16),
    *,
    n_lrs=24,
    mc_fractions=(0.25, 0.5, 0.7),
    paths=20_000,
    seed=0,
    backend="cpu",
    executor=None,
    progress=True,
) -> NoiseResult:
    """Critical learning rate against B, and stationary E L against lr, exactly and by Monte Carlo.

    Parameters
    ----------
    model : GaussianLinearRegression, LinearRegression or a linear FiniteSum
        (no weight decay: the thresholds are those of the loss itself).
    batch_sizes : batch sizes of the critical-learning-rate curve
    curve_batch_sizes : batch sizes of the stationary-loss curves
    n_lrs : learning rates per curve, from 2 % to 97 % of SGD's critical lr at that B
    mc_fractions : the Monte Carlo points, as fractions of SGD's critical lr;
        the runs start at the minimum and stop once the exact E L has settled
        (:func:`settle_steps`).  Near the threshold the stationary law of SGD
        has heavy tails (its higher moments diverge first), so Monte Carlo
        points stay below it.
    paths, seed, backend : Monte Carlo (point i seeded ``seed + i``)
    executor : Executor, optional

    Returns
    -------
    NoiseResult
    """
    n_lrs, mc_fractions, paths = check_sweep(model, n_lrs, mc_fractions, paths)
    batch_sizes = V.as_array("batch_sizes", batch_sizes, ndim=1)
    curve_batch_sizes = V.as_array("curve_batch_sizes", curve_batch_sizes, ndim=1)
    for name, arr in (("batch_sizes", batch_sizes), ("curve_batch_sizes", curve_batch_sizes)):
        if np.any(arr < 1) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must be positive integers, got {arr}")
        for B in arr:
            model.check_batch(int(B), "with_replacement", name=name)
    gaussian = type(model).__name__ == "GaussianLinearRegression"
    H = model.quadratic_form()[0]
    h_max = float(np.linalg.eigvalsh(H)[-1])
    critical = {int(B): exact.critical_lr(model, int(B)) for B in np.union1d(batch_sizes, curve_batch_sizes)}
    crit_sgd = np.array([critical[int(B)] for B in batch_sizes])
    crit_sde = np.array([exact.critical_lr(model, int(B), sde=True) for B in batch_sizes])
    closed_sgd = np.full(len(batch_sizes), np.nan)
    closed_sde = np.full(len(batch_sizes), np.nan)
    if gaussian:
        closed_sgd = np.array([theory.gaussian_critical_lr(model.h, int(B)) for B in batch_sizes])
        closed_sde = np.array([theory.gaussian_critical_lr(model.h, int(B), sde=True) for B in batch_sizes])

    J = len(curve_batch_sizes)
    lrs = np.empty((J, n_lrs))
    loss_sgd, loss_sde = np.empty((J, n_lrs)), np.empty((J, n_lrs))
    loss_closed = np.full((J, n_lrs), np.nan)
    mc_lrs = np.empty((J, len(mc_fractions)))
    mc_steps = np.empty((J, len(mc_fractions)), dtype=np.int64)
    mc_exact = np.empty((J, len(mc_fractions)))
    x0 = _minimum(model)
    configs = []
    for j, B in enumerate(curve_batch_sizes):
        B = int(B)
        crit = critical[B]
        lrs[j] = crit * np.linspace(0.02, 0.97, n_lrs)
        for e, lr in enumerate(lrs[j]):
            loss_sgd[j, e] = exact.stationary(model, SGD(lr, B)).mean("loss")
            loss_sde[j, e] = exact.stationary(model, SDE(lr, B)).mean("loss")
            if gaussian:
                loss_closed[j, e] = theory.gaussian_stationary(lr, model.h, model.sigma, B)[0]
        for p, frac in enumerate(mc_fractions):
            alg = SGD(crit * frac, B)
            steps = settle_steps(model, alg, x0)
            mc_lrs[j, p], mc_steps[j, p] = alg.lr, steps
            t = steps * alg.step_time
            mc_exact[j, p] = exact.moments(model, alg, x0, [t]).mean("loss")[0]
            configs.append(RunConfig(model, alg, x0, np.array([t]), paths, seed + len(configs), backend))
    runs = run_sweep(simulate_config, configs, executor, label="noise", progress=progress)
    mc_loss, mc_stderr, mc_diverged = last_records(runs, "loss", mc_lrs.shape)
    return NoiseResult(
        batch_sizes=batch_sizes,
        critical_sgd=crit_sgd,
        critical_sde=crit_sde,
        closed_sgd=closed_sgd,
        closed_sde=closed_sde,
        curvature_bound=2.0 / h_max,
        curve_batch_sizes=curve_batch_sizes,
        lrs=lrs,
        loss_sgd=loss_sgd,
        loss_sde=loss_sde,
        loss_closed=loss_closed,
        mc_lrs=mc_lrs,
        mc_steps=mc_steps,
        mc_loss=mc_loss,
        mc_stderr=mc_stderr,
        mc_exact=mc_exact,
        mc_diverged=mc_diverged,
        config={
            "model": model.describe(),
            "paths": int(paths),
            "seed": int(seed),
            "backend": runs[0].config["backend"] if runs else backend,
            "settle": SETTLE,
        },
        versions=package_versions(),
    )
