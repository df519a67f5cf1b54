"""SGD against its SDE on a 2-d least-squares problem.

Simulates SGD and the SDE (Euler-Maruyama at a fine step) from the same
start and compares E L(x_t) with the exact expectations of both: SGD's
discrete moments and the SDE's (a linear ODE).  At this learning rate the two
agree to a few percent; raise ``LR`` to see them part.

    python examples/sgd_vs_sde_2d.py [--out sgd_vs_sde.png]
"""

import argparse

import numpy as np

import toylab
from toylab import SDE, SGD, EulerMaruyama, LinearRegression, exact, simulate

LR, BATCH = 0.2, 2

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", help="save a figure here")
args = parser.parse_args()

rng = np.random.default_rng(0)
A = rng.normal(size=(20, 2)) * [1.0, 0.3]
model = LinearRegression(A, A @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=20))
x0 = np.array([3.0, 3.0])
times = LR * np.arange(0, 41, 4)

sgd = simulate(model, SGD(LR, BATCH), x0, times, paths=4000, seed=1, progress=False)
sde = simulate(model, EulerMaruyama(LR, BATCH, LR / 16), x0, times, paths=4000, seed=2, progress=False)
exact_sgd = exact.moments(model, SGD(LR, BATCH), x0, times).mean("loss")
exact_sde = exact.moments(model, SDE(LR, BATCH), x0, times).mean("loss")

print(f"toylab {toylab.__version__}: SGD (lr={LR}, B={BATCH}) against its SDE, E L(x_t)")
print("    t    SGD (MC +- s.e.)     SGD exact    SDE (EM, MC)         SDE exact")
for i, t in enumerate(times):
    print(f"{t:5.1f}  {sgd.mean('loss')[i]:.4f} +- {sgd.stderr('loss')[i]:.4f}   {exact_sgd[i]:.4f}"
          f"      {sde.mean('loss')[i]:.4f} +- {sde.stderr('loss')[i]:.4f}   {exact_sde[i]:.4f}")

if args.out:
    from toylab.plotting import figure, save

    fig, (ax,) = figure(1)
    ax.errorbar(times, sgd.mean("loss"), yerr=2 * sgd.stderr("loss"), fmt="o", label="SGD, simulated")
    ax.plot(times, exact_sgd, "-", label="SGD, exact")
    ax.plot(times, exact_sde, "k--", label="SDE, exact")
    ax.set_xlabel("SDE time t")
    ax.set_ylabel("E L(x_t)")
    ax.legend()
    save(fig, args.out)
    print(f"wrote {args.out}")
