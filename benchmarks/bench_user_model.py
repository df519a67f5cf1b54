"""A user's FiniteSum linear regression in the general engine against the built-in's SGD.

    python benchmarks/bench_user_model.py                 # 200 and 2000 steps to the record
    python benchmarks/bench_user_model.py --steps 200     # one record schedule

The same data (n = 1000, d = 10), B = 8, one process; the user model's
per-sample functions are those of ``tests/test_open_lab.py``.  Each run
compiles (or loads) its kernel first, then times ``simulate``: path-steps per
second, the median of ``--repeat`` runs, the two models alternating.  A
record at the last step only, so more steps to the record show the step's own
cost (a FiniteSum's record is O(n d): L, grad L and tr Sigma_1 over the data).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_open_lab import lr_grad, lr_loss  # noqa: E402
from toylab import SGD, LinearRegression, simulate  # noqa: E402
from toylab.models import FiniteSum  # noqa: E402

N, D, B = 1000, 10, 8


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[200, 2000], help="steps to the record")
    parser.add_argument("--paths", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(N, D))
    y = A @ rng.normal(size=D) + 0.1 * rng.normal(size=N)
    models = {"built-in LinearRegression": LinearRegression(A, y),
              "user FiniteSum": FiniteSum(np.column_stack([A, y]), lr_loss, lr_grad, dim=D)}
    alg, x0 = SGD(0.01, B), np.full(D, 0.3)
    print("| steps to the record | built-in path-steps/s | user FiniteSum path-steps/s | user / built-in |")
    print("|---|---|---|---|")
    for steps in args.steps:
        times = [alg.step_time * steps]
        rates = {name: [] for name in models}
        for model in models.values():
            simulate(model, alg, x0, times, paths=64, progress=False)  # compile or load
        for _ in range(args.repeat):
            for name, model in models.items():
                t = time.perf_counter()
                simulate(model, alg, x0, times, paths=args.paths, progress=False)
                rates[name].append(args.paths * steps / (time.perf_counter() - t))
        built, user = (statistics.median(r) for r in rates.values())
        print(f"| {steps} | {built:.3g} | {user:.3g} | {user / built:.3f} |")


if __name__ == "__main__":
    main()
