r"""Escape from a minimum: the rates of SGD, SVAG and the SDE against the log and the linear barrier.

Mori, Ziyin, Liu & Ueda ("Power-law escape rate of SGD", ICML 2022): with the
loss-driven noise of a square loss, the escape rate over a saddle is set by
the log barrier log(L_s / L*), not by the linear barrier L_s - L* of the
Arrhenius law.  On :class:`toylab.models.CircleBarrier` (the two barriers set
apart by rho and the label noise v) the experiment measures, for several
(lr, B):

* the SDE's exact rate 1 / E tau from ``toylab.exact.mean_exit_time`` (and the
  splitting probability, 1/2 by symmetry: both ends of (-pi, pi) are the saddle);
* the rates of SGD, SVAG (l = 2, 4, 8) and Euler-Maruyama at several dt, from
  ``simulate(..., exit=circle_barrier_exit)``: exits over total time at risk,
  the censored paths' included (``Ensemble.exit_rate``);
* Euler-Maruyama extrapolated to dt -> 0 linearly in sqrt(dt): monitored at its
  steps only, it misses crossings between them, a bias O(sqrt(dt))
  (docs/mathematics.md, "Exit times");
* SVAG's approach to the SDE: SVAG too is watched only at its steps (of
  SDE time lr / l), so its exit rate carries the same crossing bias, of order
  sqrt(lr / l), on top of its O(1/l) weak error; fitted as
  r(l) = r_inf + a / sqrt(l) (and, for contrast, as r_inf + a / l, which
  misses the SDE's rate);
* both theories (``toylab.theory.power_law_rate`` with noise scale
  c = 2 lr / B, ``kramers_rate`` at the temperature lr L* / B of the noise at
  the minimum), as rates of first reaching the saddle (``at_saddle=True``:
  twice the rate of crossing it, since a path at the top falls back half the
  time).

Default barriers: rho = 0.3 with v = 1, 1.5, 2.5 (one linear barrier, three
log barriers), and rho = 0.15, 0.45, 0.6 at the log barrier of (0.3, 1.5) (one
log barrier, four linear barriers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _passage
from .. import _validate as V
from .. import theory
from ..algorithms import SDE, SGD, SVAG, EulerMaruyama
from ..ensemble import package_versions
from ..models.barrier import CircleBarrier, circle_barrier_exit
from ..results import Result
from ._common import extrapolate_to_zero
from ._executor import run_sweep

__all__ = ["EscapeResult", "escape", "label_noise_for", "DEFAULT_BARRIERS"]


def label_noise_for(rho: float, log_barrier: float) -> float:
    """The label noise v that gives ``CircleBarrier(rho, v)`` the log barrier ``log(L_s / L*)``."""
    q = math.exp(log_barrier)
    v = ((1 + rho) ** 2 - q * (1 - rho) ** 2) / (q - 1)
    if v < 0:
        raise ValueError(f"no label noise v >= 0 gives rho={rho} the log barrier {log_barrier} (it needs a lower rho)")
    return v


_LOG_BARRIER = math.log(((1.3) ** 2 + 1.5) / ((0.7) ** 2 + 1.5))
#: (rho, label noise v): one linear barrier (0.6) at three log barriers, then one
#: log barrier (that of (0.3, 1.5)) at three more linear barriers.
DEFAULT_BARRIERS = ((0.3, 1.0), (0.3, 1.5), (0.3, 2.5)) + tuple(
    (rho, label_noise_for(rho, _LOG_BARRIER)) for rho in (0.15, 0.45, 0.6))


@dataclass(frozen=True)
class EscapeRun:
    """One simulation of the sweep (module level: it pickles to workers)."""

    model: object
    algorithm: object
    times: np.ndarray
    paths: int
    seed: int
    backend: str


def _simulate_escape(run):
    from ..simulate import simulate

    ens = simulate(run.model, run.algorithm, np.zeros(run.model.dim), run.times, paths=run.paths, seed=run.seed,
                   backend=run.backend, progress=False, exit=circle_barrier_exit)
    # only the exit statistics travel back
    return ens.exit_rate, ens.exit_rate_stderr, ens.exit_count, ens.censored, int(ens.diverged[-1]), ens.survival


def _times(factor):
    return "n/a (no two barriers share one)" if np.isnan(factor) else f"x{factor:.3g}"


@dataclass(frozen=True, eq=False)
class EscapeResult(Result):
    """Escape rates over a sweep of barriers and (lr, B).

    Attributes
    ----------
    hyper : (H, 2) the (lr, B) pairs
    rho, label_noise : (C,) the barriers' parameters
    loss_min, loss_saddle, linear_barrier, log_barrier : (C,)
    algorithms : tuple of A names: "SGD", "SVAG l=...", "EM dt=lr/..."
    em_fractions : (E,) dt / lr of the Euler-Maruyama runs
    ls : (S,) SVAG's l
    exact_rate : (H, C) the SDE's 1 / E tau, by quadrature
    splitting : (H, C) its probability of leaving at +pi (1/2 by symmetry)
    power_rate, kramers_rate : (H, C) the two theories
    rate, rate_stderr : (H, C, A) measured exit rates
    exits, censored, diverged : (H, C, A) path counts
    horizon : (H, C) the runs' last time
    sde_rate, sde_rate_stderr : (H, C) Euler-Maruyama extrapolated to dt = 0 in sqrt(dt)
    svag_limit, svag_limit_stderr : (H, C) SGD and SVAG fitted as r_inf + a / sqrt(l)
    svag_limit_linear, svag_limit_linear_stderr : (H, C) the same fitted as r_inf + a / l
    survival, survival_times : (H, C, A, R) and (H, C, R) the survival curves
    """

    _plotter = ("plot_escape", False)

    hyper: np.ndarray
    rho: np.ndarray
    label_noise: np.ndarray
    loss_min: np.ndarray
    loss_saddle: np.ndarray
    linear_barrier: np.ndarray
    log_barrier: np.ndarray
    algorithms: tuple
    em_fractions: np.ndarray
    ls: np.ndarray
    exact_rate: np.ndarray
    splitting: np.ndarray
    power_rate: np.ndarray
    kramers_rate: np.ndarray
    rate: np.ndarray
    rate_stderr: np.ndarray
    exits: np.ndarray
    censored: np.ndarray
    diverged: np.ndarray
    horizon: np.ndarray
    sde_rate: np.ndarray
    sde_rate_stderr: np.ndarray
    svag_limit: np.ndarray
    svag_limit_stderr: np.ndarray
    svag_limit_linear: np.ndarray
    svag_limit_linear_stderr: np.ndarray
    survival: np.ndarray
    survival_times: np.ndarray
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def column(self, name):
        """The index of algorithm ``name`` in :attr:`algorithms`."""
        if name not in self.algorithms:
            raise ValueError(f"name must be one of {self.algorithms}, got {name!r}")
        return self.algorithms.index(name)

    @property
    def prefactor(self):
        """2 saddles sqrt(h* |h_s|) / (2 pi) = 2 rho / pi (the 2: reaching the saddle), shape (C,):
        rates divided by it compare across rho."""
        return 2 * self.rho / np.pi

    @property
    def sde_z(self):
        """(extrapolated Euler-Maruyama - exact) / standard error, shape (H, C)."""
        return (self.sde_rate - self.exact_rate) / self.sde_rate_stderr

    @property
    def svag_z(self):
        """(SVAG extrapolated in 1/sqrt(l) - exact) / standard error, shape (H, C)."""
        return (self.svag_limit - self.exact_rate) / self.svag_limit_stderr

    @property
    def svag_linear_z(self):
        """(SVAG extrapolated in 1/l - exact) / standard error, shape (H, C)."""
        return (self.svag_limit_linear - self.exact_rate) / self.svag_limit_linear_stderr

    def spread(self, rates, by):
        """Largest max/min of ``rates`` (C,) over groups of barriers sharing ``by``
        ("linear" or "log"); NaN when no two barriers share one."""
        keys = np.round(self.linear_barrier if by == "linear" else self.log_barrier, 9)
        out = np.nan
        for key in np.unique(keys):
            group = rates[keys == key]
            if len(group) > 1:
                out = np.nanmax([out, group.max() / group.min()])
        return out

    def summary(self):
        sgd, svag = self.column("SGD"), self.column(f"SVAG l={self.ls[-1]:g}")
        parts = []
        norm = self.exact_rate / self.prefactor
        for h, (lr, B) in enumerate(self.hyper):
            ratio_pow, ratio_kr = self.exact_rate[h] / self.power_rate[h], self.exact_rate[h] / self.kramers_rate[h]
            ratio_sgd, ratio_svag = self.rate[h, :, sgd] / self.exact_rate[h], self.rate[h, :, svag] / self.exact_rate[h]
            parts.append(
                f"lr={lr:g} B={int(B)}: exact SDE rate / (2 rho/pi) spans {_times(self.spread(norm[h], 'linear'))} at one "
                f"linear barrier and {_times(self.spread(norm[h], 'log'))} at one log barrier; exact / power law "
                f"{ratio_pow.min():.3g}-{ratio_pow.max():.3g}, exact / Kramers {ratio_kr.min():.3g}-"
                f"{ratio_kr.max():.3g}; SGD / SDE {ratio_sgd.min():.3g}-{ratio_sgd.max():.3g}, "
                f"SVAG l={self.ls[-1]:g} / SDE {ratio_svag.min():.3g}-{ratio_svag.max():.3g}"
            )
        z = self.sde_z
        return (
            "escape [CircleBarrier, rate = 1/E tau]: " + "; ".join(parts)
            + f". Extrapolated to the SDE, largest |rate - exact| over {z.size} points: Euler-Maruyama in sqrt(dt) "
            f"{np.max(np.abs(z)):.2f} standard errors, SGD and SVAG in 1/sqrt(l) {np.max(np.abs(self.svag_z)):.2f} "
            f"(in 1/l: {np.max(np.abs(self.svag_linear_z)):.1f}); splitting probability {np.min(self.splitting):.6f}-"
            f"{np.max(self.splitting):.6f}; {int(self.censored.sum())} paths censored, "
            f"{int(self.diverged.sum())} diverged"
        )


def escape(
    barriers=DEFAULT_BARRIERS,
    hyper=((0.25, 2), (0.5, 4), (0.5, 2)),
    *,
    ls=(2, 4, 8),
    em_fractions=(0.5, 0.25, 0.125),
    horizon=6.0,
    records=12,
    paths=4096,
    seed=0,
    backend="cpu",
    executor=None,
    progress=True,
) -> EscapeResult:
    """Measured and exact escape rates from the minimum of ``CircleBarrier`` models.

    Parameters
    ----------
    barriers : sequence of (rho, label_noise)
        One ``CircleBarrier(rho, label_noise)`` (1-D) each.
    hyper : sequence of (lr, batch_size)
    ls : SVAG's l (SGD is l = 1)
    em_fractions : Euler-Maruyama's dt / lr, each 1 / 2^k (at least two, to extrapolate)
    horizon : each run lasts ``horizon`` times the SDE's exact E tau (rounded up to whole SGD steps);
        the paths still inside then are censored (counted, and their time at risk enters the rate)
    records : record times of the survival curves
    paths, seed, backend, executor : the Monte Carlo (run i seeded ``seed + i``; the runs are
        spread over ``executor``'s workers)

    Returns
    -------
    EscapeResult
    """
    barriers = [tuple(b) for b in barriers]
    if not barriers or any(len(b) != 2 for b in barriers):
        raise ValueError(f"barriers must be a non-empty sequence of (rho, label_noise), got {barriers!r}")
    models = [CircleBarrier(rho, v) for rho, v in barriers]
    hyper = [tuple(h) for h in hyper]
    if not hyper or any(len(h) != 2 for h in hyper):
        raise ValueError(f"hyper must be a non-empty sequence of (lr, batch_size), got {hyper!r}")
    hyper = [(V.real("lr", lr, positive=True), V.integer("batch_size", B, minimum=1)) for lr, B in hyper]
    ls = V.as_array("ls", ls, ndim=1)
    if np.any(ls <= 1):
        raise ValueError(f"ls must be > 1 (SGD is l = 1), got {ls}")
    em_fractions = V.as_array("em_fractions", em_fractions, ndim=1)
    k = np.log2(1.0 / em_fractions)
    if len(em_fractions) < 2 or np.any(np.abs(k - np.round(k)) > 1e-12) or np.any(k < 0):
        raise ValueError(f"em_fractions must be at least two of 1, 1/2, 1/4, ... (dt / lr), got {em_fractions}")
    horizon = V.real("horizon", horizon, positive=True)
    records = V.integer("records", records, minimum=1)
    paths = V.integer("paths", paths, minimum=2)

    names = ["SGD"] + [f"SVAG l={l:g}" for l in ls] + [f"EM dt=lr/{1 / f:g}" for f in em_fractions]
    H, C, A = len(hyper), len(models), len(names)
    exact_rate, splitting, power, kramers, end = (np.empty((H, C)) for _ in range(5))
    runs, survival_times = [], np.empty((H, C, records))
    for h, (lr, B) in enumerate(hyper):
        for c, model in enumerate(models):
            # toylab.exact.mean_exit_time and splitting_probability, from one integration
            mean_time, splitting[h, c] = _passage.solve(model, SDE(lr, B), 0.0, -np.pi, np.pi)
            exact_rate[h, c] = 1.0 / mean_time
            k_min, k_saddle = model.curvatures
            power[h, c] = theory.power_law_rate(model.loss_min, model.loss_saddle, 2 * lr / B, k_min, k_saddle, 2,
                                                at_saddle=True)
            kramers[h, c] = theory.kramers_rate(model.linear_barrier, lr * model.loss_min / B, k_min, k_saddle, 2,
                                               at_saddle=True)
            # whole SGD steps, each a whole number of every algorithm's steps
            steps = np.ceil(horizon * mean_time / lr / records) * np.arange(1, records + 1)
            times = steps * lr
            end[h, c], survival_times[h, c] = times[-1], times
            algs = [SGD(lr, B)] + [SVAG(lr, B, l) for l in ls] + [EulerMaruyama(lr, B, lr * f) for f in em_fractions]
            for alg in algs:
                runs.append(EscapeRun(model, alg, times, paths, seed + len(runs), backend))
    out = run_sweep(_simulate_escape, runs, executor, label="escape", progress=progress)
    shape = (H, C, A)
    rate = np.array([o[0] for o in out]).reshape(shape)
    rate_se = np.array([o[1] for o in out]).reshape(shape)
    exits, censored, diverged = (np.array([o[i] for o in out], dtype=np.int64).reshape(shape) for i in (2, 3, 4))
    survival = np.array([o[5] for o in out]).reshape(shape + (records,))

    sde_rate, sde_se, svag_inf, svag_se, svag_lin, svag_lin_se = (np.empty((H, C)) for _ in range(6))
    em, walks = slice(1 + len(ls), A), slice(0, 1 + len(ls))
    inv_l = np.concatenate([[1.0], 1.0 / ls])
    for h, (lr, _) in enumerate(hyper):
        for c in range(C):
            sde_rate[h, c], sde_se[h, c] = extrapolate_to_zero(np.sqrt(em_fractions * lr), rate[h, c, em],
                                                               rate_se[h, c, em])
            svag_inf[h, c], svag_se[h, c] = extrapolate_to_zero(np.sqrt(inv_l), rate[h, c, walks], rate_se[h, c, walks])
            svag_lin[h, c], svag_lin_se[h, c] = extrapolate_to_zero(inv_l, rate[h, c, walks], rate_se[h, c, walks])
    return EscapeResult(
        hyper=np.array(hyper, dtype=float),
        rho=np.array([m.rho for m in models]),
        label_noise=np.array([m.label_noise for m in models]),
        loss_min=np.array([m.loss_min for m in models]),
        loss_saddle=np.array([m.loss_saddle for m in models]),
        linear_barrier=np.array([m.linear_barrier for m in models]),
        log_barrier=np.array([m.log_barrier for m in models]),
        algorithms=tuple(names),
        em_fractions=em_fractions,
        ls=ls,
        exact_rate=exact_rate,
        splitting=splitting,
        power_rate=power,
        kramers_rate=kramers,
        rate=rate,
        rate_stderr=rate_se,
        exits=exits,
        censored=censored,
        diverged=diverged,
        horizon=end,
        sde_rate=sde_rate,
        sde_rate_stderr=sde_se,
        svag_limit=svag_inf,
        svag_limit_stderr=svag_se,
        svag_limit_linear=svag_lin,
        svag_limit_linear_stderr=svag_lin_se,
        survival=survival,
        survival_times=survival_times,
        config={"model": "CircleBarrier (1-D)", "paths": int(paths), "seed": int(seed), "horizon": horizon,
                "backend": backend},
        versions=package_versions(),
    )
