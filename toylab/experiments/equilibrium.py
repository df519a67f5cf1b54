"""Equilibria of scale-invariant losses with weight decay: eqs. (9)-(12) and Section 5.

On ``SphereRegression`` with weight decay wd, SGD, SVAG(l) and Euler-Maruyama
(step dt) reach equilibria with ``R = E|x|^2``, ``G = E|grad L|^2`` and
``N = E tr Sigma_B`` (time and path averages after a detected burn-in).  Each
satisfies its own norm balance (``toylab.theory``):

* SGD, eq. (11):          (2 - eta wd) wd R = eta (G + N)
* SVAG(l):                (2 - eta wd/l) wd R = eta (G/l + N)
* Euler-Maruyama (dt):    (2 - dt wd) wd R = dt G + eta N
* the SDE, eq. (12):      2 wd R = N_bar = eta N

The SDE's equilibrium is estimated by extrapolating Euler-Maruyama to dt -> 0
(its bias is O(dt)).  The residual of (12) evaluated on SVAG's and EM's
equilibria shrinks as l grows and as dt shrinks, and the C-closeness of SGD's
equilibrium to the SDE's (Definition 5.1) is set against Theorem 5.2's bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .. import theory
from ..algorithms import SGD, SVAG, EulerMaruyama
from ..ensemble import package_versions
from ..results import Result
from ._common import closeness_with_se, equilibrium_stats, extrapolate_to_zero, simulate_all

__all__ = ["EquilibriumResult", "equilibrium"]

STATS = ("sq_norm", "grad_sq_norm", "noise_trace")


@dataclass(frozen=True, eq=False)
class EquilibriumResult(Result):
    """Equilibrium statistics of each run and the relations they satisfy.

    Runs are in the order: SGD, SVAG for each l, Euler-Maruyama for each dt.
    ``kind`` is 0 (SGD), 1 (SVAG) or 2 (EM); ``param`` is l (1 for SGD) or dt.
    ``R, G, N`` and their standard errors ``R_se`` ...; ``own_residual`` (and
    ``_se``) of each run's own balance; ``residual_12`` (and ``_se``) of
    eq. (12), ``2 wd R - lr N``; ``burn_in`` and ``equilibrated`` per run.
    ``sde`` holds the extrapolated SDE equilibrium, the closeness of SGD to it
    and Theorem 5.2's bound (see :meth:`summary`).
    """

    _plotter = ("plot_equilibrium", False)

    kind: np.ndarray
    param: np.ndarray
    R: np.ndarray
    G: np.ndarray
    N: np.ndarray
    R_se: np.ndarray
    G_se: np.ndarray
    N_se: np.ndarray
    own_residual: np.ndarray
    own_residual_se: np.ndarray
    residual_12: np.ndarray
    residual_12_se: np.ndarray
    burn_in: np.ndarray
    equilibrated: np.ndarray
    diverged: np.ndarray
    sde: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def label(self, i):
        return ("SGD", f"SVAG l={self.param[i]:g}", f"EM dt={self.param[i]:g}")[int(self.kind[i])]

    def summary(self):
        lines = ["equilibrium: run, R, G, N, own-balance residual / s.e., eq. (12) residual / s.e."]
        for i in range(len(self.kind)):
            own = self.own_residual[i] / self.own_residual_se[i]
            r12 = self.residual_12[i] / self.residual_12_se[i]
            lines.append(
                f"  {self.label(i):>14}: R={self.R[i]:.4g} G={self.G[i]:.4g} N={self.N[i]:.4g}  "
                f"own {own:+.2f} s.e.  (12) {self.residual_12[i]:+.3g} ({r12:+.1f} s.e.)"
                + ("" if self.equilibrated[i] else "  [not equilibrated]")
            )
        s = self.sde
        if s:
            lines.append(
                f"  SDE (EM extrapolated to dt -> 0): R={s['R']:.4g} N={s['N']:.4g}; (12) residual "
                f"{s['residual_12']:+.3g} ({s['residual_12'] / s['residual_12_se']:+.1f} s.e.)"
            )
            lines.append(
                f"  SGD vs SDE: closeness C(R)={s['closeness_R']:.3f}, C(N)={s['closeness_N']:.3f}; "
                f"G/N = {s['G_over_N']:.3f}; Theorem 5.2 needs C >= {s['min_closeness']:.3f}"
            )
        return "\n".join(lines)


def equilibrium(
    model,
    lr,
    batch_size,
    weight_decay,
    *,
    x0,
    time=12.0,
    ls=(2, 4, 8),
    dts=None,
    paths=2000,
    seed=0,
    backend="cpu",
    burn_in=None,
    executor=None,
    progress=True,
) -> EquilibriumResult:
    """Equilibria of SGD, SVAG(l) and Euler-Maruyama(dt) on a scale-invariant model.

    Parameters
    ----------
    model : SphereRegression (any scale-invariant model)
    lr, batch_size, weight_decay : SGD's eta, B and wd > 0
    x0 : start
    time : SDE time of each run; statistics average over [burn_in, time]
    ls : SVAG parameters
    dts : Euler-Maruyama steps (default lr/4, lr/8, lr/16), extrapolated to dt -> 0
    paths, seed, backend : passed to :func:`toylab.simulate` (run i uses seed + i)
    burn_in : SDE time to discard; validated if given, else detected (the first of
        time/4, time/2, 3 time/4 after which both halves of the window agree
        within 4 standard errors)
    executor : toylab.experiments.Executor for the runs (default serial)

    Returns
    -------
    EquilibriumResult
    """
    if not getattr(model, "scale_invariant", False):
        raise ValueError(f"model must be scale invariant (SphereRegression), got {type(model).__name__}")
    lr = V.real("lr", lr, positive=True)
    weight_decay = V.real("weight_decay", weight_decay, positive=True)
    time = V.real("time", time, positive=True)
    if lr * weight_decay >= 2:
        raise ValueError(f"lr * weight_decay must be < 2, got {lr * weight_decay}")
    dts = [lr / 4, lr / 8, lr / 16] if dts is None else [V.real("dts", dt, positive=True) for dt in dts]
    ls = [V.real("ls", l) for l in ls]
    if any(l < 1 for l in ls):
        raise ValueError("ls must be >= 1")
    x0 = model.check_point(x0)
    n_rec = max(8, int(round(time / lr)))
    times = lr * np.arange(n_rec + 1)  # every algorithm's step divides lr when dt = lr/k
    algs = [SGD(lr, batch_size, weight_decay=weight_decay)]
    algs += [SVAG(lr, batch_size, l, weight_decay=weight_decay) for l in ls]
    algs += [EulerMaruyama(lr, batch_size, dt, weight_decay=weight_decay) for dt in dts]
    for alg in algs[1:]:
        k = lr / alg.step_time
        if abs(k - round(k)) > 1e-9:
            raise ValueError(f"lr must be a whole number of steps of {alg}: choose l and lr/dt integers")
    runs = simulate_all(model, algs, x0, times, paths=paths, seed=seed, backend=backend, executor=executor,
                        label="equilibrium", progress=progress)

    wd = weight_decay
    rows = []
    for alg, ens in zip(algs, runs):
        tb, ok, ((R, sR), (G, sG), (N, sN)) = equilibrium_stats(ens, STATS, burn_in)
        if isinstance(alg, SGD):
            kind, param = 0, 1.0
            own = theory.sgd_equilibrium_residual(R, G, N, lr, wd)
            own_se = (2 - lr * wd) * wd * sR + lr * (sG + sN)
        elif isinstance(alg, SVAG):
            kind, param = 1, alg.l
            own = theory.svag_equilibrium_residual(R, G, N, lr, wd, alg.l)
            own_se = (2 - lr * wd / alg.l) * wd * sR + lr * (sG / alg.l + sN)
        else:
            kind, param, dt = 2, alg.dt, alg.dt
            own = (2 - dt * wd) * wd * R - dt * G - lr * N
            own_se = (2 - dt * wd) * wd * sR + dt * sG + lr * sN
        r12 = theory.sde_equilibrium_residual(R, lr * N, wd)
        r12_se = 2 * wd * sR + lr * sN
        rows.append((kind, param, R, G, N, sR, sG, sN, own, own_se, r12, r12_se, tb, ok, int(ens.diverged[-1])))
    cols = list(zip(*rows))
    arr = lambda i, dtype=float: np.asarray(cols[i], dtype=dtype)  # noqa: E731

    em = arr(0) == 2
    sde = {}
    if em.sum() >= 2:
        # Euler-Maruyama's bias is O(dt): extrapolate linearly to dt -> 0
        Rb, sRb = extrapolate_to_zero(arr(1)[em], arr(2)[em], arr(5)[em])
        Nb, sNb = extrapolate_to_zero(arr(1)[em], arr(4)[em], arr(7)[em])
        R, G, N, sR, sN = cols[2][0], cols[3][0], cols[4][0], cols[5][0], cols[7][0]
        closeness_R, closeness_R_se = closeness_with_se(R, sR, Rb, sRb)
        closeness_N, closeness_N_se = closeness_with_se(N, sN, Nb, sNb)
        sde = {
            "R": Rb, "R_se": sRb, "N": Nb, "N_se": sNb,
            "residual_12": theory.sde_equilibrium_residual(Rb, lr * Nb, wd),
            "residual_12_se": 2 * wd * sRb + lr * sNb,
            "closeness_R": closeness_R, "closeness_R_se": closeness_R_se,
            "closeness_N": closeness_N, "closeness_N_se": closeness_N_se,
            "G_over_N": G / N,
            "min_closeness": theory.min_sde_closeness(G, N, lr, wd),
        }
    return EquilibriumResult(
        kind=arr(0, int), param=arr(1), R=arr(2), G=arr(3), N=arr(4), R_se=arr(5), G_se=arr(6), N_se=arr(7),
        own_residual=arr(8), own_residual_se=arr(9), residual_12=arr(10), residual_12_se=arr(11),
        burn_in=arr(12), equilibrated=arr(13, bool), diverged=arr(14, int), sde=sde,
        config={"model": model.describe(), "lr": lr, "batch_size": int(batch_size), "weight_decay": wd,
                "x0": x0.tolist(), "time": time, "paths": int(paths), "seed": int(seed), "backend": backend},
        versions=package_versions(),
    )
