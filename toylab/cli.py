"""The ``toylab`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line and exit code 2, never a traceback.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _demo_regression(n=64, d=5, seed=0):
    """The linear regression used by the reproduced figures: fixed, synthetic."""
    from .models import LinearRegression

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    x_star = rng.normal(size=d)
    y = A @ x_star + 0.5 * rng.normal(size=n)
    return LinearRegression(A, y)


def reproduce(out_dir, quick=False, backend="auto"):
    """Write every figure and its data into ``out_dir``; returns the paths written."""
    from . import exact
    from .algorithms import SDE, SVAG
    from .experiments import exact_weak_error
    from .plotting import plot_monte_carlo, plot_weak_error
    from .simulate import simulate

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    model = _demo_regression()
    ls = 2.0 ** np.arange(7 if quick else 9)
    lr = 0.1
    result = exact_weak_error(model, lr, 4, ls, lr * np.arange(1, 11 if quick else 21), x0=np.zeros(model.dim))
    png, data = out_dir / "weak_error_exact.png", out_dir / "weak_error_exact.npz"
    plot_weak_error(result, png)
    result.save(data)
    written += [png, data]
    ratios = ", ".join(f"{r:.4f}" for r in result.ratios)
    print(f"weak_error_exact: slope {result.slope():.4f}; error(l)/error(2l) = {ratios}")

    # Monte Carlo on the chosen backend against the exact moments it must match.
    times = lr * np.arange(0, 21, 2)
    x0 = np.zeros(model.dim)
    runs, worst = [], 0.0
    for i, l in enumerate((1, 4)):
        alg = SVAG(lr, 4, l)
        ens = simulate(model, alg, x0, times, paths=2_000 if quick else 100_000, seed=i, backend=backend)
        exact_mean = exact.moments(model, alg, x0, times).mean("loss")
        z = np.abs(ens.mean("loss") - exact_mean)[1:] / ens.stderr("loss")[1:]
        worst = max(worst, float(z.max()))
        runs.append((f"SVAG l={l}", ens, exact_mean))
        data = out_dir / f"svag_monte_carlo_l{l}.npz"
        ens.save(data)
        written.append(data)
    sde = exact.moments(model, SDE(lr, 4), x0, times).mean("loss")
    png = out_dir / "svag_monte_carlo.png"
    plot_monte_carlo(times, runs, sde, png)
    written.append(png)
    print(f"svag_monte_carlo [{runs[0][1].config['backend']}]: largest |mean - exact| = {worst:.2f} standard errors")
    return written


def main(argv=None):
    parser = _Parser(prog="toylab", description="When does SGD behave like its SDE? Exact toy models and simulators.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser(
        "reproduce",
        help="write every figure and its data under figures/",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    rep.add_argument("--out", default="figures", help="folder for the figures and their data")
    rep.add_argument("--quick", action="store_true", help="small sizes, for a fast check")
    rep.add_argument("--backend", default="auto", choices=["auto", "cpu", "cuda", "numpy"],
                     help="simulation backend (auto: cuda where a GPU is usable, else cpu)")
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        for path in reproduce(args.out, quick=args.quick, backend=args.backend):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
