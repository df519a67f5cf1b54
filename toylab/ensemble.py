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
    exited : ndarray of int, shape (T,), or None
        With an exit test (``simulate(..., exit=)``): paths exited by each
        time; then ``count + diverged + exited == paths``.  None without one.
    exit_count : int
        Paths that exited before the last time.

    With an exit test, a path stops the first time it exits; ``survival``,
    ``mean_exit_time``, ``exit_time_stderr``, ``censored``, ``exit_rate`` and
    ``exit_histogram`` describe the exit times.  Paths that had not exited by
    the last time are *censored*: counted, and never averaged in as if they
    had exited (``mean_exit_time`` is NaN while any is).
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
    exited: np.ndarray | None = None
    exit_count: int = 0
    _exit_mean: float = field(default=0.0, repr=False)
    _exit_m2: float = field(default=0.0, repr=False)

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

    # ---- first passage (simulate(..., exit=)) ---------------------------------
    def _exits(self):
        if self.exited is None:
            raise ValueError("this ensemble was run without an exit test: pass simulate(..., exit=fn)")
        return self.exited

    @property
    def survival(self) -> np.ndarray:
        """Fraction of the paths not yet exited at each time, shape (T,):
        S(t) = 1 - exited(t) / paths (diverged paths, if any, count as not exited)."""
        return 1.0 - self._exits() / self.paths

    @property
    def survival_stderr(self) -> np.ndarray:
        """Binomial standard error of :attr:`survival`, sqrt(S (1 - S) / paths)."""
        s = self.survival
        return np.sqrt(s * (1.0 - s) / self.paths)

    @property
    def censored(self) -> int:
        """Paths that had neither exited nor diverged by the last time."""
        self._exits()
        return int(self.count[-1])

    @property
    def mean_exit_time(self) -> float:
        """Mean exit time E tau over all paths; NaN while any path is censored or
        diverged (their exit times are unknown: see :attr:`exit_rate`,
        :attr:`conditional_mean_exit_time`)."""
        self._exits()
        if self.censored or self.diverged[-1] or self.exit_count == 0:
            return float("nan")
        return self._exit_mean

    @property
    def exit_time_stderr(self) -> float:
        """Standard error of :attr:`mean_exit_time`, sqrt(var tau / paths); NaN where it is."""
        if np.isnan(self.mean_exit_time) or self.exit_count < 2:
            return float("nan")
        return float(np.sqrt(self._exit_m2 / (self.exit_count - 1) / self.exit_count))

    @property
    def conditional_mean_exit_time(self) -> float:
        """E[tau | tau <= T]: the mean over the paths that exited by the last
        time T only (biased low as an estimate of E tau while paths are censored)."""
        self._exits()
        return self._exit_mean if self.exit_count else float("nan")

    @property
    def exit_rate(self) -> float:
        """Exit rate under an exponential law with censoring (its maximum-likelihood
        estimate): exits / total time at risk, sum of min(tau_i, T) over the exited
        and censored paths.  For escape from a metastable well, 1 / E tau."""
        self._exits()
        at_risk = self.exit_count * self._exit_mean + self.censored * self.times[-1]
        return self.exit_count / at_risk if at_risk > 0 else float("nan")

    @property
    def exit_rate_stderr(self) -> float:
        """Standard error of :attr:`exit_rate`, rate / sqrt(exits) (Fisher information)."""
        return self.exit_rate / np.sqrt(self.exit_count) if self.exit_count else float("nan")

    def exit_histogram(self):
        """``(edges, counts)``: exits in each interval (edges[i], edges[i + 1]] between
        the record times, edges = (0, times...)."""
        exited = self._exits()
        if self.times[0] > 0:
            # a first bin from t = 0, when no path has exited
            return np.concatenate([[0.0], self.times]), np.diff(exited, prepend=0)
        return np.asarray(self.times, dtype=float), np.diff(exited)

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
        if self.exited is not None:
            lines.append(
                f"  exits: {self.exit_count} of {self.paths} (survival at t={self.times[last]:g}: "
                f"{self.survival[last]:.6g}), censored {self.censored}; mean exit time "
                f"{self.mean_exit_time:.6g} +- {self.exit_time_stderr:.2g}, rate {self.exit_rate:.6g}"
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
        if self.exited is not None:
            out["exit"] = {"exited": self.exited, "survival": self.survival, "survival_stderr": self.survival_stderr,
                           "censored": self.censored, "mean_exit_time": self.mean_exit_time,
                           "exit_time_stderr": self.exit_time_stderr, "exit_rate": self.exit_rate,
                           "exit_rate_stderr": self.exit_rate_stderr}
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
        if self.exited is not None:
            arrays["exited"] = self.exited
            arrays["exit_stats"] = np.array([self.exit_count, self._exit_mean, self._exit_m2])
        save_npz(path, "Ensemble", meta, arrays)

    @classmethod
    def load(cls, path):
        """Load an ensemble written by :meth:`save`; another file raises ``ValueError`` naming it."""
        required = ("observables", "paths", "config", "versions", "times", "count", "diverged", "mean", "m2")
        meta, data = load_npz(path, "Ensemble", required, legacy_meta="meta")
        exits = {}
        if "exited" in data:
            n, mean, m2 = data["exit_stats"]
            exits = {"exited": data["exited"], "exit_count": int(n), "_exit_mean": float(mean), "_exit_m2": float(m2)}
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
            **exits,
        )
