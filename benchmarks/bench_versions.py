"""This checkout's ``cpu`` backend against another checkout's, side by side in one run.

    git worktree add /tmp/toylab-base <commit>
    python benchmarks/bench_versions.py --other /tmp/toylab-base
    python benchmarks/bench_versions.py --other /tmp/toylab-base --quick   # a smoke run

Each round runs every workload once in a fresh process per checkout (the
two alternate, ABBA, so a slow minute of a shared machine falls on both), each
process compiling (or loading) its kernels first and then timing one
``simulate`` call through the public API: path-steps per second.  Reported: the
median over rounds for each checkout and the median of the per-round ratios.
Beside the built-ins, this checkout's user ``FiniteSum`` linear regression
(``tests/test_open_lab.py``'s per-sample functions, on the same data) against
the built-in ``LinearRegression``'s SGD, in the same processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from toylab import NGD, SGD, SVAG, EulerMaruyama, LinearRegression, SphereRegression, simulate

N, D, B = 1000, 10, 8
rng = np.random.default_rng(0)
A = rng.normal(size=(N, D))
y = A @ rng.normal(size=D) + 0.1 * rng.normal(size=N)
models = {{"LinearRegression": LinearRegression(A, y), "SphereRegression": SphereRegression(A, np.zeros(N))}}
algs = {{"SGD": SGD(0.01, B), "SVAG": SVAG(0.01, B, 8), "NGD": NGD(0.01, B), "EulerMaruyama": EulerMaruyama(0.01, B, 0.005)}}
work = {{"SGD": (20000, 200), "SVAG": (20000, 200), "NGD": (4000, 100), "EulerMaruyama": (4000, 100)}}
if {quick}:
    work = {{k: (p // 10, s // 2) for k, (p, s) in work.items()}}
x0 = np.full(D, 0.3)
if {user}:
    from tests.test_open_lab import lr_grad, lr_loss
    from toylab.models import FiniteSum

    models["FiniteSum"] = FiniteSum(np.column_stack([A, y]), lr_loss, lr_grad, dim=D)
out = {{}}
for mname, model in models.items():
    for aname, alg in algs.items():
        if mname == "FiniteSum" and aname != "SGD":
            continue
        paths, steps = work[aname]
        times = [alg.step_time * steps]
        simulate(model, alg, x0, times, paths=64, progress=False)  # compile or load
        t = time.perf_counter()
        simulate(model, alg, x0, times, paths=paths, progress=False)
        out[mname + " " + aname] = paths * steps / (time.perf_counter() - t)
print(json.dumps(out))
'''


def measure(root, quick, user):
    code = MEASURE.format(root=str(root), quick=quick, user=user)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"measuring {root} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the other checkout's root folder")
    parser.add_argument("--rounds", type=int, default=4, help="rounds (even: ABBA)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run")
    args = parser.parse_args(argv)
    other = Path(args.other).resolve()
    here, there = {}, {}
    for r in range(args.rounds):
        order = [("here", ROOT), ("other", other)]
        if r % 2:
            order.reverse()
        for name, root in order:
            result = measure(root, args.quick, name == "here")
            for k, v in result.items():
                (here if name == "here" else there).setdefault(k, []).append(v)
        print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)
    print(f"| workload (path-steps/s) | this checkout | {other.name} | ratio (median of rounds) |")
    print("|---|---|---|---|")
    for k in here:
        if k in there:
            ratios = [a / b for a, b in zip(here[k], there[k])]
            print(f"| {k} | {statistics.median(here[k]):.3g} | {statistics.median(there[k]):.3g} "
                  f"| {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) |")
    user = here.get("FiniteSum SGD")
    if user:
        ratios = [a / b for a, b in zip(user, here["LinearRegression SGD"])]
        print(f"\nuser FiniteSum SGD / built-in LinearRegression SGD (this checkout): {statistics.median(ratios):.3f} "
              f"({min(ratios):.3f}-{max(ratios):.3f}); {statistics.median(user):.3g} path-steps/s")


if __name__ == "__main__":
    main()
