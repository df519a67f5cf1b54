"""One consistent figure style for every toylab figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; no display is needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


def figure(ncols=1, width=4.6, height=3.6):
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def save(fig, path):
    with plt.rc_context(STYLE):
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)


def plot_weak_error(result, path):
    """Weak error of SVAG against the SDE versus l, with the O(1/l) slope drawn."""
    fig, (ax, ax2) = figure(2)
    ls = result.ls
    t_end = result.times[-1]
    ax.loglog(ls, result.error, "o-", label=f"|E g(SVAG) - E g(SDE)| at t = {t_end:g}")
    ax.loglog(ls, result.max_error, "s--", ms=4, alpha=0.7, label="max over record times")
    ref = result.error[-1] * ls[-1] / ls
    ax.loglog(ls, ref, "k:", label="slope -1 (Theorem 4.3)")
    ax.set_xlabel("SVAG parameter l")
    ax.set_ylabel(f"weak error of g = {result.observable} (exact)")
    ax.set_title(f"fitted slope {result.slope():.4f}")
    ax.legend(fontsize=8)
    ax2.semilogx(ls, result.scaled, "o-")
    ax2.set_xlabel("SVAG parameter l")
    ax2.set_ylabel("l x weak error")
    ax2.set_title("l x error converges: error = C/l + O(1/l^2)")
    ax2.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    save(fig, path)


def plot_monte_carlo(times, runs, exact_sde, path, observable="loss"):
    """Monte Carlo means (with 2-standard-error bars) against exact expectations.

    ``runs``: list of (label, Ensemble, exact mean over ``times``).
    """
    fig, (ax,) = figure(1, width=6.0, height=4.0)
    for i, (label, ens, exact_mean) in enumerate(runs):
        color = f"C{i}"
        ax.errorbar(ens.times, ens.mean(observable), yerr=2 * ens.stderr(observable), fmt="o", ms=3,
                    color=color, capsize=2, label=f"{label}: simulated, +-2 s.e. ({ens.paths} paths)")
        ax.plot(times, exact_mean, "-", color=color, lw=1, alpha=0.7)
    ax.plot(times, exact_sde, "k--", lw=1.5, label="SDE (2), exact")
    ax.set_xlabel("SDE time t (steps x lr / l)")
    ax.set_ylabel(f"E {observable}(x_t)")
    ax.set_title("Monte Carlo against exact moments (lines: exact, same colour)")
    ax.legend(fontsize=7)
    save(fig, path)
