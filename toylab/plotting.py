"""One consistent figure style for every toylab figure.

Every ``plot_*`` function returns its ``matplotlib.figure.Figure``; given a
``path`` it also writes the figure there and closes it.  Importing this
module leaves matplotlib's backend alone, so figures show inline in a
notebook.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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


def save(fig, path=None):
    """Lay out ``fig``; with a ``path``, write it there and close it.  Returns ``fig``."""
    with plt.rc_context(STYLE):
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
    if path is not None:
        plt.close(fig)
    return fig


def _finite_min(values):
    """The smallest finite entry (diverged runs are inf)."""
    return float(np.min(values[np.isfinite(values)]))


def plot_weak_error(result, path=None):
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
    ax.set_title(f"fitted slope {result.slope():.4f} (linear model, quadratic g:\n"
                 "the moment ODE's discretisation; see the sphere and |x|^4 figures)", fontsize=8)
    ax.legend(fontsize=8)
    ax2.semilogx(ls, result.scaled, "o-")
    ax2.set_xlabel("SVAG parameter l")
    ax2.set_ylabel("l x weak error")
    ax2.set_title("l x error converges: error = C/l + O(1/l^2)")
    ax2.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return save(fig, path)


def plot_monte_carlo(times, runs, exact_sde, path=None, observable="loss"):
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
    return save(fig, path)


def plot_stationary(result, path=None):
    """Stationary tr Cov of SGD, SVAG(l) and the SDE against eta, and their ratios."""
    fig, (ax, ax2) = figure(2)
    ax.loglog(result.lrs, result.trace_sgd, "o-", label="SGD (exact)")
    for i, l in enumerate(result.ls):
        ax.loglog(result.lrs, result.trace_svag[i], "-", lw=1, label=f"SVAG l={l:g}")
    ax.loglog(result.lrs, result.trace_sde, "k--", label="SDE (exact)")
    ax.set_xlabel("learning rate eta")
    ax.set_ylabel("tr Cov x at stationarity")
    ax.set_title("stationary fluctuations")
    ax.legend(fontsize=7)
    ax2.semilogx(result.lrs, result.ratio, "o-", label="SGD / SDE")
    for i, l in enumerate(result.ls):
        ax2.semilogx(result.lrs, result.svag_ratio[i], "-", lw=1, label=f"SVAG l={l:g} / SDE")
    if len(result.curvatures):
        # the closed form itself, along each eigenvector of H (any C); the trace ratio mixes them
        per_direction = result.direction_ratio()
        for j, k in enumerate(result.curvatures):
            ax2.semilogx(result.lrs, per_direction[j], "k:", lw=1.2,
                         label="closed form 1/(1 - eta h/2) along each\neigenvector of H (any C)" if j == 0 else None)
            ax2.annotate(f"h={k:g}", (result.lrs[-1], per_direction[j, -1]), fontsize=6, xytext=(2, 0),
                         textcoords="offset points")
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_xlabel("learning rate eta")
    ax2.set_ylabel("ratio of tr Cov to the SDE's")
    ax2.set_title("discrete excess, closed by SVAG as l grows")
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_regimes(result, path=None, time_result=None):
    """Best eta against B, with the linear (noise) and saturated (curvature) regimes.

    ``time_result``: the same grid under a budget of SDE time, drawn as the
    final loss against eta/B (one curve in the noise-dominated regime).
    """
    fig, axes = figure(2 if time_result is None else 3)
    ax, ax2 = axes[0], axes[1]
    B = result.batch_sizes
    budget = ", ".join(f"{v:g} {k}" for k, v in result.config["budget"].items())
    ax.loglog(B, result.best_lr, "o-", label="best eta (exact final loss)")
    ax.loglog(B, result.best_lr[0] * B / B[0], "k:", label="eta proportional to B")
    ax.axhline(result.lr_limit, color="C3", ls="--", label="stability limit 2/lambda_max")
    ax.axvline(result.b_noise, color="C2", ls="-.", label=f"B_noise at x0 (McCandlish et al.) = {result.b_noise:.3g}")
    if np.isfinite(result.crossover):
        ax.axvline(result.crossover, color="C4", ls=":",
                   label=f"measured crossover = {result.crossover:.3g} = {result.crossover / result.b_noise:.1f} B_noise")
    edge = result.at_edge
    if np.any(edge):
        ax.plot(B[edge], result.best_lr[edge], "x", color="C3", ms=9, label="at the grid's edge (a bound)")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("best learning rate eta")
    ax.set_title(f"fixed budget of {budget}")
    ax.legend(fontsize=7)
    for i, b in enumerate(B):
        ax2.loglog(result.lrs, result.final_loss[i], "-", lw=1, label=f"B={b:g}")
    best = _finite_min(result.final_loss)
    ax2.set_ylim(0.9 * best, 20 * best)  # diverging learning rates leave the plot
    ax2.set_xlabel("learning rate eta")
    ax2.set_ylabel("E L(x) after the budget (exact)")
    ax2.set_title("final loss over the eta grid")
    ax2.legend(fontsize=6, ncol=2)
    if time_result is not None:
        ax3 = axes[2]
        T = time_result.config["budget"]["time"]
        floor = _finite_min(time_result.final_loss)
        for i, b in enumerate(time_result.batch_sizes):
            ax3.loglog(time_result.lrs / b, time_result.final_loss[i] - floor, "-", lw=1, label=f"B={b:g}")
        ax3.set_xlabel("eta / B (the SDE's noise scale)")
        ax3.set_ylabel(f"E L(x_T) - min over the grid, T = {T:g}")
        ax3.set_title(f"fixed SDE time {T:g}: one curve of eta/B\nwhile the SDE holds; the best eta is the grid's smallest (a bound)",
                      fontsize=9)
        ax3.set_ylim(1e-6, 10 * floor)
        ax3.legend(fontsize=6, ncol=2)
    return save(fig, path)


def plot_equilibrium(result, path=None):
    """Residual of eq. (12) on SVAG's and EM's equilibria, shrinking as l grows and dt shrinks."""
    fig, (ax, ax2) = figure(2)
    lr = result.config["lr"]
    for kind, label, xs in ((1, "SVAG: x = 1/l", lambda p: 1 / p), (2, "EM: x = dt/eta", lambda p: p / lr)):
        sel = result.kind == kind
        x = xs(result.param[sel])
        ax.errorbar(x, result.residual_12[sel], yerr=2 * result.residual_12_se[sel], fmt="o-", capsize=2, label=label)
    sgd = result.kind == 0
    ax.errorbar([1.0], result.residual_12[sgd], yerr=2 * result.residual_12_se[sgd], fmt="s", color="C3", capsize=2,
                label="SGD (x = 1)")
    if result.sde:
        ax.errorbar([0.0], [result.sde["residual_12"]], yerr=[2 * result.sde["residual_12_se"]], fmt="*", ms=10,
                    color="k", capsize=2, label="SDE (EM extrapolated)")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("1/l  or  dt/eta")
    ax.set_ylabel("2 wd R - eta N   (eq. 12 residual, +-2 s.e.)")
    ax.set_title("(12) approached as l grows and dt shrinks")
    ax.legend(fontsize=7)
    own = result.own_residual / result.own_residual_se
    labels = [result.label(i) for i in range(len(result.kind))]
    ax2.barh(range(len(own)), own, color=["C3" if k == 0 else "C0" if k == 1 else "C1" for k in result.kind])
    ax2.axvline(-4, color="k", ls=":", lw=1)
    ax2.axvline(4, color="k", ls=":", lw=1, label="+-4 s.e.")
    ax2.set_yticks(range(len(own)), labels, fontsize=7)
    ax2.set_xlabel("own balance residual / s.e.  ((11) for SGD)")
    ax2.set_ylabel("run (SGD, SVAG l, Euler-Maruyama dt)")
    ax2.set_title("each equilibrium's own relation holds")
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_lsr(result, path=None):
    """G/N against batch size with the eq. (14) threshold; Theorem 5.6's and the observed critical batch sizes."""
    fig, (ax, ax2) = figure(2)
    B = result.batch_sizes
    gn = result.G_over_N
    gn_se = gn * np.hypot(result.G_se / result.G, result.N_se / result.N)
    ax.errorbar(B, gn, yerr=2 * gn_se, fmt="o-", capsize=2, label="G/N at equilibrium (+-2 s.e.)")
    B0 = result.config["batch_size"]
    ks = np.geomspace(1.0, result.kappas[-1], 200)
    crit = np.array([result.critical_ratio(k) for k in ks])
    finite = np.isfinite(crit) & (crit > 0)
    ax.loglog(ks[finite] * B0, crit[finite], "k--", label=f"eq. (14), baseline form: largest G/N (C^2={result.C ** 2:g})")
    ax.axvline(result.kappa_max * B0, color="C3", ls="-.", label=f"Theorem 5.6 (sharper): critical B = {result.kappa_max * B0:.3g}")
    ax.axvline(result.kappa_observed * B0, color="C2", ls=":", lw=2,
               label=f"observed: C-close up to B = {result.kappa_observed * B0:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size kappa B (lr = kappa eta)")
    ax.set_ylabel("G / N")
    ax.set_title("when the linear scaling rule must fail")
    ax.legend(fontsize=6)
    ax2.errorbar(B, result.closeness, yerr=result.closeness - result.closeness_low, fmt="o-", capsize=2,
                 label="closeness to the baseline (R, G, kappa N)")
    ax2.axhline(result.C, color="k", ls="--", label=f"C = {result.C:.3g}")
    ax2.set_xscale("log")
    ax2.set_xlabel("batch size kappa B")
    ax2.set_ylabel("smallest C for C-closeness (Def. 5.1)")
    ax2.set_title("observed breakdown")
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_svag_paths(results, path=None, titles=None):
    """Loss and |x|^2 against SDE time: SGD, SVAG(l), SDE; one row per setting."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(results), 2, figsize=(9.2, 3.4 * len(results)), squeeze=False)
    titles = titles if titles is not None else [f"lr = {res.config.get('lr', '?')}" for res in results]
    for row, (res, title) in enumerate(zip(results, titles)):
        for j, name in enumerate(("loss", "|x|^2")):
            ax = axes[row, j]
            for i, label in enumerate(res.labels):
                style = "k--" if i == len(res.labels) - 1 else "-"
                m, s = res.mean[i, j], res.stderr[i, j]
                ax.plot(res.times, m, style, lw=1.2 if i else 1.8, label=label)
                ax.fill_between(res.times, m - 2 * s, m + 2 * s, alpha=0.2)
            ax.set_xlabel("SDE time t")
            ax.set_ylabel(f"E {name} (+-2 s.e. bands)")
            ax.set_title(f"{title}: {name}")
            if j == 0:
                ax.legend(fontsize=6)
    return save(fig, path)


def plot_weak_error_mc(results, path=None):
    """Monte Carlo weak error of SVAG against l (95% intervals), of EM against dt, and the non-Gaussian gap.

    The third panel is E g(SGD) - E g(NGD) over SDE time, relative to
    max_t |E g(NGD)|, with a 95% band: zero for a quadratic g on a linear
    model (equal first two moments), and the gap that SVAG closes elsewhere.
    """
    fig, (ax, ax2, ax3) = figure(3)
    for i, res in enumerate(results):
        c = f"C{i}"
        fit = (f"slope {res.slope:.2f} +- {res.slope_ci:.2f}" if np.isfinite(res.slope)
               else "no fit (< 2 points clear of the noise)")
        ax.errorbar(res.ls, res.error, yerr=1.96 * res.error_se, fmt="o-", color=c, capsize=2,
                    label=f"g = {res.observable}: {fit}")
        ax.plot(res.ls[res.fitted], res.error[res.fitted], "o", mfc="none", ms=10, color=c)
        ax2.errorbar(res.dts, res.em_error, yerr=1.96 * res.em_error_se, fmt="s-", color=c, capsize=2,
                     label=f"g = {res.observable}")
        scale = np.abs(res.ngd_mean).max()
        diff = (res.sgd_mean - res.ngd_mean) / scale
        band = 1.96 * np.hypot(res.sgd_se, res.ngd_se) / scale
        ax3.plot(res.times, diff, "-", color=c,
                 label=f"g = {res.observable}: max gap {res.gaussian_gap / res.gaussian_gap_se:.1f} s.e.")
        ax3.fill_between(res.times, diff - band, diff + band, color=c, alpha=0.25, lw=0)
    ref = results[0]
    model = ref.config["model"]["model"]
    ax.loglog(ref.ls, ref.error[0] / ref.ls, "k:", label="slope -1 (Theorem 4.3)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("SVAG parameter l")
    ax.set_ylabel("max_t |E g(SVAG) - E g(SDE)| (95% CI)")
    ax.set_title(f"{model}, {ref.config['paths']} paths (circled: fitted)", fontsize=9)
    ax.legend(fontsize=7)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("Euler-Maruyama step dt")
    ax2.set_ylabel("max_t |E g(EM) - E g(SDE)|")
    ax2.set_title(f"EM against dt; references differ by <= {max(r.ref_gap for r in results):.1f} s.e.", fontsize=9)
    ax2.legend(fontsize=7)
    ax3.axhline(0, color="k", lw=0.8)
    ax3.set_xlabel("SDE time t")
    ax3.set_ylabel("(E g(SGD) - E g(NGD)) / max_t |E g(NGD)|")
    ax3.set_title("non-Gaussian gap: SGD against NGD (3), 95% band", fontsize=9)
    ax3.legend(fontsize=7)
    return save(fig, path)


def plot_momentum(result, path=None):
    """Stationary tr Cov of heavy ball against lr for each mu, the SDE at lr/(1 - mu), Monte Carlo points."""
    fig, (ax, ax2) = figure(2, width=5.0)
    for i, mu in enumerate(result.momenta):
        c = f"C{i}"
        ax.loglog(result.lrs[i], result.trace_sgd[i], "-", color=c, label=f"mu = {mu:g}: heavy ball (exact)")
        ax.loglog(result.lrs[i], result.trace_sde[i], "--", color=c, lw=1, label=f"mu = {mu:g}: SDE at lr/(1-mu)")
        if np.all(np.isfinite(result.trace_closed[i])):
            ax.loglog(result.lrs[i][::3], result.trace_closed[i][::3], "+", color=c, ms=7)
        ax.errorbar(result.mc_lrs[i], result.mc_trace[i], yerr=2 * result.mc_stderr[i], fmt="o", color=c, ms=4,
                    capsize=3, mfc="none")
        ax2.semilogx(result.lrs[i], result.ratio[i], "-", color=c, label=f"mu = {mu:g}")
    ax.plot([], [], "k+", label="closed form (per eigen-direction)")
    ax.plot([], [], "ko", mfc="none", ms=4, label=f"Monte Carlo, {result.config['paths']} paths (+-2 s.e.)")
    ax.set_xlabel("learning rate lr")
    ax.set_ylabel("stationary tr Cov x")
    ax.set_title(f"{result.config['model']['model']}, B = {result.config['batch_size']}", fontsize=9)
    ax.legend(fontsize=6)
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("learning rate lr")
    ax2.set_ylabel("tr Cov(heavy ball) / tr Cov(SDE at lr/(1-mu))")
    ax2.set_title("excess over the SDE: smaller with momentum at equal lr,\n"
                  "the same at equal lr h / (2 (1 + mu))", fontsize=9)
    ax2.legend(fontsize=7)
    return save(fig, path)


def plot_noise(results, path=None):
    """Per model (one row each): critical lr against B beside 2/h_max; stationary E L against lr."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(results), 2, figsize=(10.0, 3.8 * len(results)), squeeze=False)
    for row, res in enumerate(results):
        ax, ax2 = axes[row]
        name = res.config["model"]["model"]
        B = res.batch_sizes
        ax.loglog(B, res.critical_sgd, "o-", color="C0", label="SGD (exact moment map)")
        ax.loglog(B, res.critical_sde, "s-", color="C1", ms=4, label="its SDE")
        if np.all(np.isfinite(res.closed_sgd)):
            ax.loglog(B, res.closed_sgd, "k+", ms=9, label="closed forms")
            ax.loglog(B, res.closed_sde, "k+", ms=9)
        ax.axhline(res.curvature_bound, color="C3", ls="--", label=f"curvature bound 2/h_max = {res.curvature_bound:.3g}")
        ax.set_ylim(0.5 * np.min(res.critical_sgd), 2 * max(res.curvature_bound, np.max(res.critical_sgd)))
        ax.set_xlabel("batch size B")
        ax.set_ylabel("critical learning rate (2nd moments diverge)")
        ax.set_title(f"{name}: minibatch noise limits lr at small B", fontsize=9)
        ax.legend(fontsize=7)
        for j, b in enumerate(res.curve_batch_sizes):
            c = f"C{j}"
            ax2.semilogy(res.lrs[j], res.loss_sgd[j], "-", color=c, label=f"B = {b:g}: SGD (exact)")
            ax2.semilogy(res.lrs[j], res.loss_sde[j], "--", color=c, lw=1, label=f"B = {b:g}: SDE")
            ax2.errorbar(res.mc_lrs[j], res.mc_loss[j], yerr=2 * res.mc_stderr[j], fmt="o", color=c, ms=4,
                         capsize=3, mfc="none")
        ax2.plot([], [], "ko", mfc="none", ms=4, label=f"Monte Carlo, {res.config['paths']} paths (+-2 s.e.)")
        ax2.set_xscale("log")
        ax2.set_xlabel("learning rate lr (up to 97% of SGD's critical lr)")
        ax2.set_ylabel("stationary E L")
        ax2.set_title(f"{name}: SGD's stationary loss leaves its SDE's", fontsize=9)
        ax2.legend(fontsize=6, ncol=2)
    return save(fig, path)


def plot_escape(result, path=None, config=1, hyper=0):
    """Escape rates against the log and the linear barrier; the step-size bias; survival.

    Rates are divided by the prefactor 2 rho / pi (two ways to the saddle,
    sqrt(h* |h_s|) = rho, and a rate of reaching it), so that barriers of
    different curvature compare.
    ``config`` and ``hyper`` pick the barrier and (lr, B) of the lower panels.
    """
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.0))
    (ax_log, ax_lin), (ax_step, ax_surv) = axes
    pre = result.prefactor
    sgd = result.column("SGD")
    svag = [result.column(f"SVAG l={l:g}") for l in result.ls]
    for h, (lr, B) in enumerate(result.hyper):
        col = f"C{h}"
        for ax, x in ((ax_log, result.log_barrier), (ax_lin, result.linear_barrier)):
            # the walks a little to the side of the SDE's rate, l increasing rightward
            step = 0.012 * (x.max() - x.min() + 0.1)
            ax.semilogy(x, result.exact_rate[h] / pre, "s", color=col, ms=8, mfc="none", mew=1.5)
            ax.errorbar(x, result.sde_rate[h] / pre, yerr=2 * result.sde_rate_stderr[h] / pre, fmt="x", color=col,
                        ms=6, capsize=2)
            ax.errorbar(x - step, result.rate[h, :, sgd] / pre, yerr=2 * result.rate_stderr[h, :, sgd] / pre,
                        fmt="o", color=col, ms=4, capsize=2)
            for j, a in enumerate(svag):
                ax.errorbar(x + (j + 1) * step, result.rate[h, :, a] / pre, yerr=2 * result.rate_stderr[h, :, a] / pre,
                            fmt="^", color=col, ms=3 + j, capsize=1, alpha=0.6)
        # the power law depends on the log barrier alone (and on c = 2 lr / B)
        grid = np.linspace(0.9 * result.log_barrier.min(), 1.05 * result.log_barrier.max(), 50)
        c = 2 * lr / B
        ax_log.semilogy(grid, np.exp(-grid * (2 / c + 0.5)), "-", color=col, lw=1)  # = power_rate / prefactor
        # Arrhenius at the temperature of the noise at the minimum: one value per barrier
        ax_lin.semilogy(result.linear_barrier, result.kramers_rate[h] / pre, "v", color=col, ms=6, alpha=0.5)
    # two legends: colours are (lr, B), markers are what was measured or predicted
    from matplotlib.lines import Line2D

    colours = [Line2D([], [], color=f"C{h}", lw=3, label=f"lr={lr:g}, B={int(B)} (c = 2 lr/B = {2 * lr / B:g})")
               for h, (lr, B) in enumerate(result.hyper)]
    marks = [Line2D([], [], color="k", marker="s", mfc="none", ls="", label="SDE, exact (quadrature)"),
             Line2D([], [], color="k", marker="x", ls="", label="Euler-Maruyama, extrapolated"),
             Line2D([], [], color="k", marker="o", ls="", ms=4, label="SGD (left of it)"),
             Line2D([], [], color="k", marker="^", ls="", ms=4, alpha=0.6,
                    label="SVAG l = " + ", ".join(f"{l:g}" for l in result.ls) + " (right, growing)")]
    for ax, extra in ((ax_log, Line2D([], [], color="k", lw=1, label="power law (Mori et al.)")),
                      (ax_lin, Line2D([], [], color="k", marker="v", ls="", alpha=0.5,
                                      label="Kramers at the noise of the minimum"))):
        first = ax.legend(handles=colours, fontsize=6.5, loc="upper right")
        ax.add_artist(first)
        ax.legend(handles=marks + [extra], fontsize=6.5, loc="lower left")
    ax_log.set_xlabel("log barrier log(L_s / L*)")
    ax_lin.set_xlabel("linear barrier L_s - L*")
    for ax in (ax_log, ax_lin):
        ax.set_ylabel("escape rate / (2 rho/pi)  (+-2 s.e.)")
    ax_log.set_title("against the log barrier: rates line up on the power law", fontsize=9)
    spread = result.spread(result.exact_rate[0] / pre, "linear")
    ax_lin.set_title("against the linear barrier: exact SDE rates at one barrier\n"
                     + (f"x{spread:.2g} apart; " if np.isfinite(spread) else "") + "Kramers below", fontsize=9)

    lr, B = result.hyper[hyper]
    exact = result.exact_rate[hyper, config]
    rate, se = result.rate[hyper, config], result.rate_stderr[hyper, config]
    n_walk = 1 + len(result.ls)
    ls = np.concatenate([[1.0], result.ls])
    x_walk = np.sqrt(lr / ls)
    x_em = np.sqrt(lr * result.em_fractions)
    ax_step.errorbar(x_walk, rate[:n_walk], yerr=2 * se[:n_walk], fmt="o", capsize=3,
                     label="SGD (l = 1) and SVAG l = " + ", ".join(f"{v:g}" for v in result.ls))
    ax_step.errorbar(x_em, rate[n_walk:], yerr=2 * se[n_walk:], fmt="s", capsize=3,
                     label="Euler-Maruyama, dt = lr x " + ", ".join(f"{v:g}" for v in result.em_fractions))
    xs = np.linspace(0, x_walk.max(), 20)
    slope_em = np.polyfit(x_em, rate[n_walk:], 1, w=1 / se[n_walk:])[0]
    ax_step.plot(xs, result.sde_rate[hyper, config] + slope_em * xs, "C1--", lw=1,
                 label="Euler-Maruyama, linear in sqrt(dt)")
    slope_walk = np.polyfit(x_walk, rate[:n_walk], 1, w=1 / se[:n_walk])[0]
    ax_step.plot(xs, result.svag_limit[hyper, config] + slope_walk * xs, "C0--", lw=1,
                 label="SVAG, linear in 1/sqrt(l)")
    ax_step.axhline(exact, color="k", lw=1, label=f"SDE, exact: {exact:.4g}")
    ax_step.set_xlabel("sqrt(step time): sqrt(lr / l), sqrt(dt)")
    ax_step.set_ylabel("escape rate (+-2 s.e.)")
    ax_step.set_title(f"rho={result.rho[config]:g}, v={result.label_noise[config]:.3g}, lr={lr:g}, B={int(B)}: "
                      "watched at its steps, a walk\nmisses crossings: bias O(sqrt(step))", fontsize=9)
    ax_step.legend(fontsize=6)

    t = result.survival_times[hyper, config]
    for name in ("SGD", f"SVAG l={result.ls[-1]:g}", result.algorithms[-1]):
        a = result.column(name)
        ax_surv.semilogy(t, result.survival[hyper, config, a], "o-", ms=3, label=name)
    ax_surv.semilogy(t, np.exp(-exact * t), "k--", lw=1, label="exp(-t / E tau), E tau of the SDE (exact)")
    ax_surv.set_xlabel("SDE time t")
    ax_surv.set_ylabel("survival: fraction not yet escaped")
    ax_surv.set_title(f"{result.config.get('paths')} paths a run; censored at t = {t[-1]:g}", fontsize=9)
    ax_surv.legend(fontsize=7)
    return save(fig, path)
