"""The cpu backend's SGD on one thread against all threads, in one process.

    python benchmarks/bench_threads.py             # 2*10^4 paths x 200 steps, 15 rounds
    python benchmarks/bench_threads.py --rounds 2  # a smoke run

The workload of the CPU table (LinearRegression, d = 10, n = 1000, B = 8).
Each round times one run on one thread and one on all of Numba's threads,
in ABBA order (``numba.set_num_threads``), so a drift of the machine's speed
falls on both alike.  Prints the median path-steps per second of each and
their ratio: how far a step's cost is one core's and how far the threads
contend for something they share.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_cpu import B, models, rate  # noqa: E402
from toylab import SGD  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15, help="ABBA rounds: two runs of each a round")
    args = parser.parse_args(argv)
    import numba

    model = models()["LinearRegression"]
    alg = SGD(0.01, B)
    threads = (1, numba.config.NUMBA_NUM_THREADS)
    rates = {t: [] for t in threads}
    for r in range(args.rounds):
        for t in threads + threads[::-1] if r % 2 else threads[::-1] + threads:
            numba.set_num_threads(t)
            rates[t].append(rate(model, alg, args.paths, args.steps, "cpu", 1))
    one, many = (np.median(rates[t]) for t in threads)
    print(f"# LinearRegression SGD, {args.paths} paths x {args.steps} steps, {args.rounds} ABBA rounds")
    for t in threads:
        q1, q3 = np.percentile(rates[t], [25, 75])
        print(f"{t} thread(s): median {np.median(rates[t]):.3g} path-steps/s (quartiles {q1:.3g}-{q3:.3g})")
    print(f"{threads[1]} / 1 thread: {many / one:.2f}")


if __name__ == "__main__":
    main()
