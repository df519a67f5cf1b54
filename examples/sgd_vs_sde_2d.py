"""
SGD against its SDE on a 2-d least-squares problem
===================================================

Simulates SGD and the SDE (Euler-Maruyama at a fine step) from the same
start and compares E L(x_t) with the exact expectations of both: SGD's
discrete moments and the SDE's (a linear ODE).  At this learning rate the two
agree to a few percent; raise ``LR`` to see them part.

    python examples/sgd_vs_sde_2d.py [--lr 0.2] [--paths 4000] [--out sgd_vs_sde.png]
"""

import argparse

import numpy as np

import toylab
from toylab import SDE, SGD, EulerMaruyama, LinearRegression, exact, simulate

BATCH = 2

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--lr", type=float, default=0.2, help="learning rate")
parser.add_argument("--paths", type=int, default=4000, help="Monte Carlo paths")
parser.add_argument("--out", default="sgd_vs_sde.png", help="the figure")
args = parser.parse_args()
LR = args.lr

rng = np.random.default_rng(0)
A = rng.normal(size=(20, 2)) * [1.0, 0.3]
model = LinearRegression(A, A @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=20))
x0 = np.array([3.0, 3.0])
times = LR * np.arange(0, 41, 4)

sgd = simulate(model, SGD(LR, BATCH), x0, times, paths=args.paths, seed=1, progress=False)
sde = simulate(model, EulerMaruyama(LR, BATCH, LR / 16), x0, times, paths=args.paths, seed=2, progress=False)
exact_sgd = exact.moments(model, SGD(LR, BATCH), x0, times).mean("loss")
exact_sde = exact.moments(model, SDE(LR, BATCH), x0, times).mean("loss")

print(f"toylab {toylab.__version__}: SGD (lr={LR}, B={BATCH}) against its SDE, E L(x_t)")
print("    t    SGD (MC +- s.e.)     SGD exact    SDE (EM, MC)         SDE exact")
for i, t in enumerate(times):
    print(f"{t:5.1f}  {sgd.mean('loss')[i]:.4f} +- {sgd.stderr('loss')[i]:.4f}   {exact_sgd[i]:.4f}"
          f"      {sde.mean('loss')[i]:.4f} +- {sde.stderr('loss')[i]:.4f}   {exact_sde[i]:.4f}")

from toylab.plotting import figure, save  # noqa: E402

fig, (ax,) = figure(1)
ax.errorbar(times, sgd.mean("loss"), yerr=2 * sgd.stderr("loss"), fmt="o", capsize=3,
            label=f"SGD, simulated ({args.paths} paths, +-2 s.e.)")
ax.errorbar(times, sde.mean("loss"), yerr=2 * sde.stderr("loss"), fmt="s", ms=3, capsize=3, mfc="none",
            label="SDE, Euler-Maruyama dt = lr/16")
ax.plot(times, exact_sgd, "-", label="SGD, exact")
ax.plot(times, exact_sde, "k--", label="SDE, exact")
ax.set_xlabel("SDE time t (= steps x lr)")
ax.set_ylabel("E L(x_t)")
ax.set_title(f"SGD against its SDE, lr = {LR:g}, B = {BATCH}")
ax.legend(fontsize=7)
save(fig)
fig.savefig(args.out)
print(f"wrote {args.out}")
