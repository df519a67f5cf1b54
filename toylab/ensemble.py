"""The result of :func:`toylab.simulate`: statistics of observables at SDE times."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np

from ._io import load_npz, save_npz

__all__ = ["Ensemble", "package_versions"]


def package_versions():
    """Versions of toylab and of the libraries its numbers depend on."""
    import numba
    import scipy

    from . import __version__

    from ._io import provenance

    return {
        "toylab": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "provenance": provenance(),
    }


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Means and standard errors of observables over an ensemble of paths.

    Means are over the paths that have not diverged by each time (a path whose
    state turns non-finite or exceeds the divergence bound stops and is
    counted in ``diverged``, never averaged in).

    Attributes
    ----------
    times : ndarray, shape (T,)
        The requested SDE times.
    observables : tuple of str
        Names accepted by :meth:`mean`, :meth:`stderr`, :meth:`var`.
    paths : int
        Paths simulated.
    count : ndarray of int, shape (T,)
        Paths alive (not diverged) at each time.
    diverged : ndarray of int, shape (T,)
        Paths diverged by each time; ``count + diverged == paths``.
    config : dict
        Model, algorithm, x0, seed, paths and backend of the run.
    versions : dict
        Package versions that produced it.
    """

    times: np.ndarray
    observables: tuple
    paths: int
    count: np.ndarray
    diverged: np.ndarray
    _mean: np.ndarray = field(repr=False)
    _m2: np.ndarray = field(repr=False)
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def _column(self, name):
        if name not in self.observables:
            raise ValueError(f"name must be one of {self.observables}, got {name!r}")
        return self.observables.index(name)

    def mean(self, name: str) -> np.ndarray:
        """Sample mean of observable ``name`` over the surviving paths, shape (T,)."""
        m = self._mean[:, self._column(name)].copy()
        m[self.count == 0] = np.nan
        return m

    def var(self, name):
        """Unbiased sample variance over the surviving paths, shape (T,)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 1, self._m2[:, self._column(name)] / (self.count - 1), np.nan)

    def stderr(self, name: str) -> np.ndarray:
        """Standard error of :meth:`mean`, ``sqrt(var / count)``, shape (T,)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.var(name) / self.count)

    @property
    def diverged_fraction(self):
        """Fraction of paths diverged by each time, shape (T,)."""
        return self.diverged / self.paths

    def __getitem__(self, name):
        return self.mean(name)

    def keys(self):
        return self.observables

    def __repr__(self):
        lines = [f"Ensemble({self.paths} paths, {len(self.times)} times in [{self.times[0]:g}, {self.times[-1]:g}])"]
        for key in ("model", "algorithm"):
            if key in self.config:
                lines.append(f"  {key}: {self.config[key]}")
        last = len(self.times) - 1
        for name in self.observables:
            lines.append(
                f"  {name:>14s}(t={self.times[last]:g}) = {self.mean(name)[last]:.6g} +- {self.stderr(name)[last]:.2g}"
            )
        if self.diverged[last]:
            lines.append(
                f"  {self.diverged[last]} of {self.paths} paths diverged; means are over the surviving paths"
            )
        return "\n".join(lines)

    # ---- saving -------------------------------------------------------------
    def plot(self, observable: str = "loss", ax=None, label: str | None = None):
        """E observable against SDE time with a +-2 standard-error band; returns the Figure.

        Draws on ``ax`` when given (several ensembles on one axes), else on a new figure.
        """
        import matplotlib.pyplot as plt

        if observable not in self.observables:
            raise ValueError(f"observable must be one of {self.observables}, got {observable!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        alg = self.config.get("algorithm", {})
        name = label or ", ".join(f"{k}={v}" for k, v in alg.items() if k in ("algorithm", "lr", "batch_size", "l"))
        m, s = self.mean(observable), self.stderr(observable)
        line = ax.plot(self.times, m, "-", label=f"{name} ({self.paths} paths)")[0]
        ax.fill_between(self.times, m - 2 * s, m + 2 * s, color=line.get_color(), alpha=0.25, lw=0)
        ax.set_xlabel("SDE time t (= steps x lr)")
        ax.set_ylabel(f"E {observable} (+-2 s.e.)")
        ax.set_title(self.config.get("model", {}).get("model", ""), fontsize=9)
        ax.legend(fontsize=7)
        return ax.figure

    def to_json(self):
        """Strict JSON: times, counts, each observable's mean and standard error (NaN as null), config."""
        import json

        from .results import _strict

        out = {"times": self.times, "config": self.config, "versions": self.versions, "paths": self.paths,
               "count": self.count, "diverged": self.diverged}
        for name in self.observables:
            out[name] = {"mean": self.mean(name), "stderr": self.stderr(name)}
        return json.dumps(_strict(out), indent=2, allow_nan=False)

    def save(self, path):
        """Save losslessly to ``path`` (``.npz``), atomically; :meth:`load` restores it."""
        meta = {
            "observables": list(self.observables),
            "paths": self.paths,
            "config": self.config,
            "versions": self.versions,
        }
        arrays = {"times": self.times, "count": self.count, "diverged": self.diverged, "mean": self._mean,
                  "m2": self._m2}
        save_npz(path, "Ensemble", meta, arrays)

    @classmethod
    def load(cls, path):
        """Load an ensemble written by :meth:`save`; another file raises ``ValueError`` naming it."""
        required = ("observables", "paths", "config", "versions", "times", "count", "diverged", "mean", "m2")
        meta, data = load_npz(path, "Ensemble", required, legacy_meta="meta")
        return cls(
            times=data["times"],
            observables=tuple(meta["observables"]),
            paths=int(meta["paths"]),
            count=data["count"],
            diverged=data["diverged"],
            _mean=data["mean"],
            _m2=data["m2"],
            config=meta["config"],
            versions=meta["versions"],
        )
