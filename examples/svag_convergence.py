"""
SVAG converging to the SDE as l grows: the O(1/l) rate of Theorem 4.3, exactly
==============================================================================

On a linear model the weak error ``|E L(SVAG_l) - E L(SDE)|`` at a fixed SDE time
is computed exactly for l = 1, 2, 4, ..., 256.  Each doubling of l halves it.

    python examples/svag_convergence.py [--lr 0.1] [--levels 9] [--out svag_convergence.png]
"""

import argparse

import numpy as np

from toylab import LinearRegression
from toylab.experiments import exact_weak_error
from toylab.plotting import plot_weak_error

parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--levels", type=int, default=9, help="l = 1, 2, ..., 2^(levels - 1)")
parser.add_argument("--out", default="svag_convergence.png", help="the figure")
args = parser.parse_args()

rng = np.random.default_rng(0)
A = rng.normal(size=(32, 3))
model = LinearRegression(A, A @ np.array([1.0, 0.0, -1.0]) + 0.5 * rng.normal(size=32))
lr = args.lr
result = exact_weak_error(model, lr, 2, 2.0 ** np.arange(args.levels), lr * np.arange(1, 21), x0=np.zeros(3))

print("     l    weak error     l x error   error(l/2)/error(l)")
for i, l in enumerate(result.ls):
    ratio = f"{result.error[i - 1] / result.error[i]:.4f}" if i else ""
    print(f"{l:6g}    {result.error[i]:.4e}    {result.scaled[i]:.4e}   {ratio}")
print(f"fitted slope of log error against log l: {result.slope():.4f} (Theorem 4.3: -1)")
fig = plot_weak_error(result)
fig.savefig(args.out)
print(f"wrote {args.out}")
