"""SVAG trajectories converging to the SDE (the toy version of the paper's Figure 4).

Loss and |x|^2 against SDE time for SGD, SVAG(l) for growing l, and the SDE
(Euler-Maruyama at a fine step), all from one start on a scale-invariant model
with weight decay.  Where the SDE approximation holds, every curve lies on the
SDE's; where the linear scaling rule fails (large eta, G/N large), SVAG still
converges, to a limit away from SGD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from ..algorithms import SGD, SVAG, EulerMaruyama
from ..ensemble import package_versions
from ..results import Result
from ._common import simulate_all

__all__ = ["SvagPathsResult", "svag_paths"]

OBSERVABLES = ("loss", "sq_norm")


@dataclass(frozen=True, eq=False)
class SvagPathsResult(Result):
    """Means and standard errors along SDE time.

    ``labels`` name the runs (SGD, SVAG l=..., SDE); ``mean`` and ``stderr``
    have shape (runs, observables, times) with observables ``("loss", "sq_norm")``.
    """

    _plotter = ("plot_svag_paths", True)

    labels: tuple
    times: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def gap_to_sde(self, observable="loss"):
        """max over time of |mean - SDE mean| per run, in units of the combined standard error."""
        j = OBSERVABLES.index(observable)
        ref, ref_se = self.mean[-1, j], self.stderr[-1, j]
        diff = np.abs(self.mean[:, j] - ref)
        se = np.hypot(self.stderr[:, j], ref_se)
        return np.max(diff[:, 1:] / np.maximum(se[:, 1:], 1e-300), axis=1)

    def summary(self):
        gaps = ", ".join(f"{lab}: {g:.1f}" for lab, g in zip(self.labels[:-1], self.gap_to_sde()[:-1]))
        return f"svag_paths [lr={self.config.get('lr')}]: largest gap to the SDE's loss, in s.e.: {gaps}"


def svag_paths(model, lr: float, batch_size: int, weight_decay: float = 0.0, *, x0, time=4.0, ls=(2, 4, 8, 16), sde_dt=None,
               paths=2000, seed=0, backend="cpu", executor=None, progress=True) -> SvagPathsResult:
    """Simulate SGD, SVAG(l) and the SDE (Euler-Maruyama at ``sde_dt``, default lr/64).

    Returns
    -------
    SvagPathsResult
    """
    lr = V.real("lr", lr, positive=True)
    time = V.real("time", time, positive=True)
    x0 = model.check_point(x0)
    sde_dt = lr / 64 if sde_dt is None else V.real("sde_dt", sde_dt, positive=True)
    times = lr * np.arange(int(round(time / lr)) + 1)
    algs = [SGD(lr, batch_size, weight_decay=weight_decay)]
    algs += [SVAG(lr, batch_size, l, weight_decay=weight_decay) for l in ls]
    algs += [EulerMaruyama(lr, batch_size, sde_dt, weight_decay=weight_decay)]
    labels = ("SGD",) + tuple(f"SVAG l={l:g}" for l in ls) + (f"SDE (EM dt={sde_dt:g})",)
    runs = simulate_all(model, algs, x0, times, paths=paths, seed=seed, backend=backend, executor=executor,
                        label="svag_paths", progress=progress)
    mean = np.array([[e.mean(o) for o in OBSERVABLES] for e in runs])
    stderr = np.array([[e.stderr(o) for o in OBSERVABLES] for e in runs])
    return SvagPathsResult(
        labels=labels, times=times, mean=mean, stderr=stderr,
        config={"model": model.describe(), "lr": lr, "batch_size": int(batch_size), "weight_decay": weight_decay,
                "x0": x0.tolist(), "paths": int(paths), "seed": int(seed), "backend": backend,
                "diverged": [int(e.diverged[-1]) for e in runs]},
        versions=package_versions(),
    )
