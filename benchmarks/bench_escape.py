"""The escape workload: path-steps per second of first-passage runs, and the exit test's cost.

    python benchmarks/bench_escape.py                  # cpu (and numpy at fewer paths)
    python benchmarks/bench_escape.py --backends cpu cuda

``CircleBarrier(0.3, 1.5)`` (1-D) from its minimum, exit at the saddle
(``circle_barrier_exit``, |x| >= pi), lr = 0.25, B = 2, to t = 1500 (about
5 times the SDE's E tau = 290.5; SGD, slower to escape, leaves some 4 % of its
paths censored, the others 1 %): SGD, SVAG(l = 8) and Euler-Maruyama
at dt = lr/8, the runs of ``toylab escape``.  Path-steps are those the paths
took: sum of min(tau_i, T) / step time, from the ensemble's exit statistics.
Then the exit test's cost: the same model and algorithms for a fixed 2000
steps without an exit test against an exit test that never holds (|x| >= 1e9).
Medians of ``--repeat`` runs after a warm-up run that compiles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toylab import SGD, SVAG, EulerMaruyama, simulate  # noqa: E402
from toylab.models import CircleBarrier  # noqa: E402
from toylab.models.barrier import circle_barrier_exit  # noqa: E402

LR, B, T = 0.25, 2, 1500.0


@numba.njit
def never(x):
    return abs(x[0]) >= 1e9


def algorithms():
    return [SGD(LR, B), SVAG(LR, B, 8), EulerMaruyama(LR, B, LR / 8)]


def path_steps(ens, alg):
    """Steps the paths took: the exited ones to their exit, the censored to T."""
    return (ens.exit_count * ens.conditional_mean_exit_time + ens.censored * ens.times[-1]) / alg.step_time


def timed(fn, repeat):
    fn()  # compiles (or loads from the disk cache)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - start, out))
    runs.sort(key=lambda r: r[0])
    return runs[len(runs) // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["cpu", "numpy"])
    parser.add_argument("--paths", type=int, default=20_000, help="paths on cpu and cuda (numpy: 1/20)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    model = CircleBarrier(0.3, 1.5)
    print(f"numba threads: {numba.get_num_threads()}")
    print("| backend | algorithm | paths | censored | seconds | path-steps/s |")
    print("|---|---|---|---|---|---|")
    for backend in args.backends:
        paths = args.paths if backend != "numpy" else args.paths // 20
        for alg in algorithms():
            def run():
                return simulate(model, alg, [0.0], [T], paths=paths, seed=1, backend=backend,
                                exit=circle_barrier_exit, progress=False)

            seconds, ens = timed(run, args.repeat)
            print(f"| {backend} | {type(alg).__name__} | {paths} | {ens.censored} | {seconds:.3f} | "
                  f"{path_steps(ens, alg) / seconds:.3g} |")
    print()
    print("| algorithm | no exit test, path-steps/s | exit test never true, path-steps/s | ratio |")
    print("|---|---|---|---|")
    for alg in algorithms():
        rates = []
        for exit_test in (None, never):
            def run():
                return simulate(model, alg, [0.0], [2000 * alg.step_time], paths=args.paths, seed=1,
                                exit=exit_test, progress=False)

            seconds, _ = timed(run, args.repeat)
            rates.append(args.paths * 2000 / seconds)
        print(f"| {type(alg).__name__} | {rates[0]:.3g} | {rates[1]:.3g} | {rates[1] / rates[0]:.3f} |")


if __name__ == "__main__":
    main()
