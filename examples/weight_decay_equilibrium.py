"""
Weight decay and the norm equilibrium of a scale-invariant loss (eqs. 9-11)
===========================================================================

SGD on SphereRegression (the loss depends on ``x/|x|`` only) with weight decay:
``|x|^2`` first shrinks, then settles where the decay balances the gradient
noise, ``(2 - eta wd) wd R = eta (G + N)``, with ``R = E|x|^2``, ``G = E|grad L|^2`` and
N = E tr Sigma_B.  The script simulates it and checks that balance.

    python examples/weight_decay_equilibrium.py [--lr 0.1] [--paths 2000] [--out weight_decay_equilibrium.png]
"""

import argparse

import numpy as np

from toylab import SGD, SphereRegression, simulate, theory

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--paths", type=int, default=2000, help="Monte Carlo paths")
parser.add_argument("--out", default="weight_decay_equilibrium.png", help="the figure")
args = parser.parse_args()
LR, BATCH, WD = args.lr, 4, 0.5
rng = np.random.default_rng(1)
model = SphereRegression(rng.normal(size=(8, 3)), 0.5 * rng.normal(size=8))
times = LR * np.arange(0, 121)
ens = simulate(model, SGD(LR, BATCH, weight_decay=WD), [1.0, 0.5, -0.5], times, paths=args.paths, seed=0,
               progress=False)

print("  SDE time    E|x|^2")
for i in range(0, len(times), 20):
    print(f"  {times[i]:8.1f}    {ens.mean('sq_norm')[i]:.4f}")
late = times >= times[-1] / 2
R, G, N = (ens.mean(k)[late].mean() for k in ("sq_norm", "grad_sq_norm", "noise_trace"))
sR, sG, sN = (ens.stderr(k)[late].mean() for k in ("sq_norm", "grad_sq_norm", "noise_trace"))
se = (2 - LR * WD) * WD * sR + LR * (sG + sN)  # conservative: time averages of correlated records
residual = theory.sgd_equilibrium_residual(R, G, N, LR, WD)
print(f"equilibrium: R = {R:.4f}, G = {G:.4f}, N = {N:.4f}")
print(f"eq. (11): (2 - eta wd) wd R = {(2 - LR * WD) * WD * R:.5f}, eta (G + N) = {LR * (G + N):.5f}, "
      f"residual {residual:+.2e} (conservative standard error {se:.1e})")

from toylab.plotting import figure, save  # noqa: E402

fig, (ax, ax2) = figure(2)
m, sd = ens.mean("sq_norm"), ens.stderr("sq_norm")
ax.plot(times, m, "-", label=f"E|x|^2 ({args.paths} paths)")
ax.fill_between(times, m - 2 * sd, m + 2 * sd, alpha=0.3, label="+-2 s.e.")
ax.axhline(R, color="k", ls=":", label=f"equilibrium R = {R:.4f}")
ax.set_xlabel("SDE time t (= steps x lr)")
ax.set_ylabel("E |x|^2")
ax.set_title(f"norm equilibrium, lr = {LR:g}, wd = {WD:g}, B = {BATCH}", fontsize=9)
ax.legend(fontsize=7)
lhs = (2 - LR * WD) * WD * R
ax2.bar(["(2 - lr wd) wd R", "lr (G + N)"], [lhs, LR * (G + N)], yerr=[2 * (2 - LR * WD) * WD * sR,
        2 * LR * (sG + sN)], capsize=4, color=["C0", "C1"])
ax2.set_ylabel("the two sides of eq. (11) (+-2 s.e.)")
ax2.set_title(f"eq. (11) balances: residual {residual:+.1e} (s.e. {se:.0e})", fontsize=9)
save(fig)
fig.savefig(args.out)
print(f"wrote {args.out}")
