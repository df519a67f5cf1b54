"""Heavy-ball momentum at finite learning rates: stationary fluctuations against the SDE's.

Liu, Ziyin & Ueda ("Noise and fluctuation of finite learning rate SGD",
ICML 2021): for small lr at fixed momentum mu, heavy ball follows the SDE of
SGD at the effective learning rate ``lr / (1 - mu)``; at finite lr its
stationary fluctuations exceed that SDE's.  On ``NoisyQuadratic`` each
eigen-direction (curvature h, noise c along it) has, exactly,

    Var x = lr (c/B) (1 + mu) / (h (1 - mu) (2 (1 + mu) - lr h))

(:func:`toylab.theory.momentum_stationary_variance`), the SDE's
``lr (c/B) / (2 h (1 - mu))``, their ratio ``1 / (1 - lr h / (2 (1 + mu)))``.
The experiment computes tr Cov x three ways (the closed form, the exact
moment map of (x, b), the SDE) across lr for several mu, with Monte Carlo
points from the simulators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import exact, theory
from ..algorithms import SDE, SGD
from ..ensemble import package_versions
from ..results import Result
from ._common import RunConfig, simulate_config
from ._executor import run_sweep
from .noise import check_sweep, last_records, settle_steps

__all__ = ["MomentumResult", "momentum"]


@dataclass(frozen=True, eq=False)
class MomentumResult(Result):
    """Stationary tr Cov x of heavy-ball SGD against lr for several momenta.

    Attributes
    ----------
    momenta : (M,) momentum parameters mu
    lrs : (M, E) learning rates, up to 97 % of each mu's stability bound 2 (1 + mu) / h_max
    trace_sgd : (M, E) exact stationary tr Cov x (the moment map of (x, b))
    trace_closed : (M, E) the closed form, summed over the eigen-directions
        (NaN off NoisyQuadratic)
    trace_sde : (M, E) the SDE of SGD at lr / (1 - mu)
    mc_lrs, mc_steps : (M, P) learning rates and steps of the Monte Carlo runs (from x = 0)
    mc_trace, mc_stderr : (M, P) Monte Carlo E |x|^2 at the last step (= tr Cov x: E x = 0)
    mc_exact : (M, P) exact E |x|^2 at that step
    mc_diverged : (M, P) paths that diverged
    lr_common : one learning rate stable for every mu (half of 2 / h_max)
    ratio_common : (M,) tr Cov(heavy ball) / tr Cov(SDE at lr_common / (1 - mu)) there, exactly
    """

    _plotter = ("plot_momentum", False)

    momenta: np.ndarray
    lrs: np.ndarray
    trace_sgd: np.ndarray
    trace_closed: np.ndarray
    trace_sde: np.ndarray
    mc_lrs: np.ndarray
    mc_steps: np.ndarray
    mc_trace: np.ndarray
    mc_stderr: np.ndarray
    mc_exact: np.ndarray
    mc_diverged: np.ndarray
    lr_common: float
    ratio_common: np.ndarray
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def ratio(self):
        """tr Cov of heavy ball over its SDE's at lr / (1 - mu), shape (M, E)."""
        return self.trace_sgd / self.trace_sde

    @property
    def mc_z(self):
        """(Monte Carlo - exact) / standard error at each point."""
        return (self.mc_trace - self.mc_exact) / self.mc_stderr

    def summary(self):
        parts = []
        for i, mu in enumerate(self.momenta):
            e = int(np.argmax(self.lrs[i]))
            parts.append(f"mu={mu:g}: lr={self.lrs[i, e]:.4g} ratio {self.ratio[i, e]:.3f}")
        mid = [f"mu={mu:g} {r:.4f}" for mu, r in zip(self.momenta, self.ratio_common)]
        return (
            "momentum: tr Cov(heavy ball) / tr Cov(SDE at lr/(1-mu)) near each bound: " + "; ".join(parts)
            + f"; at lr = {self.lr_common:.4g}: " + ", ".join(mid)
            + f". Monte Carlo: largest |mean - exact| = {np.max(np.abs(self.mc_z)):.2f} standard errors over "
            f"{self.mc_z.size} points, {int(np.sum(self.mc_diverged))} paths diverged"
        )


def _closed_trace(model, lr, mu, batch_size):
    """Sum over H's eigenvectors u of the per-direction closed form (h = u^T H u, c = u^T C u)."""
    h, U = np.linalg.eigh(model.H)
    c = np.einsum("iu,ij,ju->u", U, model.C, U)
    return float(np.sum(theory.momentum_stationary_variance(lr, mu, h, c, batch_size)))


def _fractions(n):
    """n fractions of the stability bound: geometric up to 1/2, then even steps to 97 %, where the curves bend."""
    low = n // 2
    return np.concatenate([np.geomspace(0.002, 0.5, low, endpoint=False), np.linspace(0.5, 0.97, n - low)])


def momentum(
    model,
    momenta=(0.0, 0.5, 0.9),
    batch_size=1,
    *,
    n_lrs=24,
    mc_fractions=(0.1, 0.5, 0.9),
    paths=20_000,
    seed=0,
    backend="cpu",
    executor=None,
    progress=True,
) -> MomentumResult:
    """Exact stationary tr Cov x of heavy-ball SGD against lr, the SDE's, and Monte Carlo points.

    Parameters
    ----------
    model : NoisyQuadratic (the closed form is drawn), or any linear model
        whose stationary mean is 0
    momenta : values of mu in [0, 1)
    batch_size : B
    n_lrs : learning rates per mu, from 0.2 % to 97 % of its bound 2 (1 + mu) / h_max
        (geometric up to 50 %, then evenly spaced)
    mc_fractions : Monte Carlo learning rates as fractions of each mu's bound; the
        runs start at x = 0 and stop once the exact moments have settled
    paths, seed, backend, executor : Monte Carlo (run i seeded ``seed + i``)

    Returns
    -------
    MomentumResult
    """
    n_lrs, mc_fractions, paths = check_sweep(model, n_lrs, mc_fractions, paths)
    momenta = V.as_array("momenta", momenta, ndim=1)
    if np.any(momenta < 0) or np.any(momenta >= 1):
        raise ValueError(f"momenta must lie in [0, 1), got {momenta}")
    batch_size = V.integer("batch_size", batch_size, minimum=1)
    model.check_batch(batch_size, "with_replacement", name="batch_size")
    closed = type(model).__name__ == "NoisyQuadratic"
    H, b, _ = model.quadratic_form()
    if np.any(b != 0):
        raise ValueError(f"model must have its minimum at x = 0 (a NoisyQuadratic), got {type(model).__name__}")
    h_max = float(np.linalg.eigvalsh(H)[-1])

    M, P = len(momenta), len(mc_fractions)
    lrs = np.empty((M, n_lrs))
    trace_sgd, trace_sde = np.empty((M, n_lrs)), np.empty((M, n_lrs))
    trace_closed = np.full((M, n_lrs), np.nan)
    mc_lrs, mc_exact = np.empty((M, P)), np.empty((M, P))
    mc_steps = np.empty((M, P), dtype=np.int64)
    x0 = np.zeros(model.dim)
    configs = []
    for i, mu in enumerate(momenta):
        bound = 2.0 * (1.0 + mu) / h_max
        lrs[i] = bound * _fractions(n_lrs)
        for e, lr in enumerate(lrs[i]):
            trace_sgd[i, e] = np.trace(exact.stationary(model, SGD(lr, batch_size, momentum=mu)).cov)
            trace_sde[i, e] = np.trace(exact.stationary(model, SDE(lr / (1.0 - mu), batch_size)).cov)
            if closed:
                trace_closed[i, e] = _closed_trace(model, lr, mu, batch_size)
        for p, frac in enumerate(mc_fractions):
            alg = SGD(bound * frac, batch_size, momentum=mu)
            steps = settle_steps(model, alg, x0)
            t = steps * alg.step_time
            mc_lrs[i, p], mc_steps[i, p] = alg.lr, steps
            mc_exact[i, p] = exact.moments(model, alg, x0, [t]).mean("sq_norm")[0]
            configs.append(RunConfig(model, alg, x0, np.array([t]), paths, seed + len(configs), backend))
    lr_common = 1.0 / h_max
    ratio_common = np.array([
        np.trace(exact.stationary(model, SGD(lr_common, batch_size, momentum=mu)).cov)
        / np.trace(exact.stationary(model, SDE(lr_common / (1.0 - mu), batch_size)).cov)
        for mu in momenta
    ])
    runs = run_sweep(simulate_config, configs, executor, label="momentum", progress=progress)
    mc_trace, mc_stderr, mc_diverged = last_records(runs, "sq_norm", (M, P))
    return MomentumResult(
        momenta=momenta,
        lrs=lrs,
        trace_sgd=trace_sgd,
        trace_closed=trace_closed,
        trace_sde=trace_sde,
        mc_lrs=mc_lrs,
        mc_steps=mc_steps,
        mc_trace=mc_trace,
        mc_stderr=mc_stderr,
        mc_exact=mc_exact,
        mc_diverged=mc_diverged,
        lr_common=lr_common,
        ratio_common=ratio_common,
        config={
            "model": model.describe(),
            "batch_size": batch_size,
            "paths": int(paths),
            "seed": int(seed),
            "backend": runs[0].config["backend"] if runs else backend,
        },
        versions=package_versions(),
    )
