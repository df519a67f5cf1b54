"""Cold compile time of every cpu kernel, and its load from the disk cache.

    python benchmarks/bench_compile.py            # every kernel
    python benchmarks/bench_compile.py --quick    # SGD only

Each kernel is compiled in a fresh process with an empty cache folder
(``TOYLAB_CACHE_DIR``), timing the first ``simulate`` call (a few paths and
steps, so the time is the compile); a second fresh process then loads it from
that cache.  General kernels: a user ``FiniteSum`` (the README's double well),
the population models, and LinearRegression and SphereRegression in the
general engine (``TOYLAB_FAST=0``); fast kernels: LinearRegression and
SphereRegression under each built-in algorithm, and NGD with either noise
construction (per sample at n = 64, the moment factor).  Targets: a general kernel
<= 5 s, a fast one <= 15 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_CALL = r'''
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from tests.test_open_lab import well_grad as grad, well_loss as loss
from toylab import GD, NGD, SGD, SVAG, EulerMaruyama, simulate
from toylab.models import FiniteSum, GaussianLinearRegression, LinearRegression, NoisyQuadratic, SphereRegression

rng = np.random.default_rng(0)
A = rng.normal(size=(64, 10))
models = {{
    "FiniteSum": (FiniteSum(rng.normal(size=(32, 1)), loss, grad, dim=1), [0.5]),
    "GaussianLinearRegression": (GaussianLinearRegression(np.ones(10), np.zeros(10), 0.3), np.full(10, 0.3)),
    "NoisyQuadratic": (NoisyQuadratic(np.eye(10), 0.1 * np.eye(10)), np.full(10, 0.3)),
    "LinearRegression": (LinearRegression(A, A @ np.ones(10)), np.full(10, 0.3)),
    "SphereRegression": (SphereRegression(A, np.zeros(64)), np.full(10, 0.3)),
    "LinearRegression (moments)": (LinearRegression(A, A @ np.ones(10), noise="moments"), np.full(10, 0.3)),
    "SphereRegression (moments)": (SphereRegression(A, np.zeros(64), noise="moments"), np.full(10, 0.3)),
}}
algs = {{"SGD": SGD(0.01, 8), "SVAG": SVAG(0.01, 8, 4), "NGD": NGD(0.01, 8),
        "EulerMaruyama": EulerMaruyama(0.01, 8, 0.005), "GD": GD(0.01)}}
model, x0 = models[{model!r}]
alg = algs[{algorithm!r}]
t = time.perf_counter()
simulate(model, alg, x0, [alg.step_time * 4], paths=8, progress=False)
print(time.perf_counter() - t)
'''


def first_call(model, algorithm, cache, fast):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TOYLAB_CACHE_DIR"] = str(cache)
    env["TOYLAB_FAST"] = "1" if fast else "0"
    code = FIRST_CALL.format(root=str(ROOT), model=model, algorithm=algorithm)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{algorithm} x {model} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SGD only")
    args = parser.parse_args(argv)
    algorithms = ["SGD"] if args.quick else ["SGD", "SVAG", "NGD", "EulerMaruyama", "GD"]
    cases = [("general", m, a, False) for m in ("FiniteSum", "GaussianLinearRegression", "NoisyQuadratic",
                                                 "LinearRegression", "SphereRegression") for a in algorithms]
    cases += [("fast", m, a, True) for m in ("LinearRegression", "SphereRegression") for a in algorithms]
    # NGD's other fast form: the noise from the moment factor (n = 64 draws it per sample)
    cases += [("fast", m, "NGD", True) for m in ("LinearRegression (moments)", "SphereRegression (moments)")]
    print("| kernel | model | algorithm | cold compile (s) | from the disk cache (s) |")
    print("|---|---|---|---|---|")
    for kind, model, algorithm, fast in cases:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_call(model, algorithm, cache, fast)
            warm = first_call(model, algorithm, cache, fast)
        print(f"| {kind} | {model} | {algorithm} | {cold:.1f} | {warm:.2f} |", flush=True)


if __name__ == "__main__":
    main()
