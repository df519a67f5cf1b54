"""Throughput of the numpy and cpu backends, measured in one run.

    python benchmarks/bench_cpu.py            # the table in BENCHMARKS.md
    python benchmarks/bench_cpu.py --quick    # smaller sizes, a smoke run

Reports, per workload: path-steps per second (median of --repeat runs, and of
two more for NGD and Euler-Maruyama on ``numpy``) for the
``numpy`` and ``cpu`` backends and their ratio; SVAG's cost relative to SGD's from
alternating runs; achieved flop/s against this
machine's dgemm peak measured in the same run, before and after the table,
the larger reading taken (a roofline line); compile time
(cold cache) and warm start-up (the median of 5), each in a fresh process; peak memory of a
10^6-path run of every workload.

Flops per path-step are counted from the kernels (multiply and add count one
each): SGD on LinearRegression does per sample a dot (2d) and an axpy (2d),
so 4Bd + 3d; SVAG twice the batch work, 8Bd + 5d.  On SphereRegression a
sample also adds r_i (a_i.u) to a sum (3 more), and the batch's sum takes
5d to normalise (``kernels/fast/models.py::sp_rows_grad``): B(4d + 3) + 5d, and
3d for the update.  NGD and Euler-Maruyama: the gradient, H x - b (2d^2) on
LinearRegression, P_u (H u - b) / |x| (2d^2 + 8d) on SphereRegression (which
summed the n per-sample gradients before, n(4d + 3) + 6d); and the exact noise.
With ``noise="moments"`` (what ``"auto"`` picks here) the noise is r normals,
the weighted sum of the r packed columns (W, w) = sum_k zeta_k (S_k, s_k),
2 r e with e = d(d+1)/2 + d and r <= e, and W z + w, 2 d^2 (the Box-Muller
arithmetic, about 75 flops a pair of normals, is not counted); with
``noise="per_sample"`` (the rows marked so) it is n normals and per sample a
residual (2d) and the weighted sum of r_i a_i (2d), with 4 more for the weight
and, on SphereRegression, the sum of r_i (a_i.u): n(4d + 4), and the mean
gradient once more.  A few O(d) terms are added to each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toylab import NGD, SGD, SVAG, EulerMaruyama, LinearRegression, SphereRegression, simulate  # noqa: E402

N, D, B = 1000, 10, 8


def models():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(N, D))
    y = A @ rng.normal(size=D) + 0.1 * rng.normal(size=N)
    return {"LinearRegression": LinearRegression(A, y), "SphereRegression": SphereRegression(A, np.zeros(N))}


def flops(model, alg):
    sphere = isinstance(model, SphereRegression)
    # a batch's sum: 4d a sample, and on SphereRegression 3 more a sample and 5d
    batch = B * (4 * D + 3) + 5 * D if sphere else B * 4 * D
    if isinstance(alg, SGD):
        return batch + 3 * D
    if isinstance(alg, SVAG):
        return 2 * batch + 5 * D
    # H x - b; on SphereRegression P_u (H u - b) / |x| (u, the projection, the norm)
    grad = 2 * D * D + (8 * D if sphere else 0)
    if model.noise_method == "moments":
        e = D * (D + 1) // 2 + D
        return grad + 2 * model.noise_dim * e + 2 * D * D + (10 if sphere else 7) * D
    # per sample (kernels/fast/models.py::linear_rows, weighted): the residual 2d, the weighted axpy
    # 2d, the weight and the sum of r_i (a_i.u) 4; then the mean gradient again (the
    # noise's own), and O(d) to finish
    return 2 * grad + N * (4 * D + 4) + 6 * D


def dgemm_peak(size=2000, repeat=5):
    a = np.random.default_rng(0).normal(size=(size, size))
    a @ a
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t)
    return 2 * size**3 / np.median(times)


def plain_sgd_kernel():
    """The issue's reference point: a plain Numba prange SGD kernel on the
    same workload, a SplitMix64 generator per path (not counter-based: its
    streams depend on the path's whole history), no statistics, no divergence
    test, the state in the caller's (paths, d) array."""
    from numba import njit, prange

    @njit(inline="always")
    def splitmix(s):
        s = s + np.uint64(0x9E3779B97F4A7C15)
        z = (s ^ (s >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return s, z ^ (z >> np.uint64(31))

    @njit(parallel=True)
    def run(X, A, y, lr, B, steps, seed):
        paths, d = X.shape
        n = A.shape[0]
        for path in prange(paths):
            s = np.uint64(seed) * np.uint64(1000003) + np.uint64(path)
            x = X[path]
            g = np.empty(d)
            for _ in range(steps):
                for c in range(d):
                    g[c] = 0.0
                for _ in range(B):
                    s, z = splitmix(s)
                    i = np.int64(((z >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))
                    r = 0.0
                    for c in range(d):
                        r += A[i, c] * x[c]
                    r -= y[i]
                    for c in range(d):
                        g[c] += A[i, c] * r
                for c in range(d):
                    x[c] -= lr * g[c] / B

    return run


def plain_sgd_rate(kernel, model, paths, steps):
    X = np.full((64, D), 0.3)
    kernel(X, model.A, model.y, 0.01, B, 2, 1)  # compile
    X = np.full((paths, D), 0.3)
    t = time.perf_counter()
    kernel(X, model.A, model.y, 0.01, B, steps, 1)
    return paths * steps / (time.perf_counter() - t)


def rate(model, alg, paths, steps, backend, repeat):
    times_ = [steps * alg.step_time]
    simulate(model, alg, np.full(D, 0.3), times_, paths=64, progress=False, backend=backend)  # compile/warm
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        simulate(model, alg, np.full(D, 0.3), times_, paths=paths, seed=1, progress=False, backend=backend)
        runs.append(time.perf_counter() - t)
    return paths * steps / np.median(runs)


def in_fresh_process(code, env=None, bytecode=False):
    """Run ``code`` in a new interpreter; the last line it prints, as JSON.

    ``bytecode``: let Python read and write its bytecode cache (``__pycache__``)
    even where the environment sets PYTHONDONTWRITEBYTECODE, as an installed
    package has it: the warm start-up is measured with every cache warm.
    """
    env = {**os.environ, **(env or {})}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Warm start-ups timed, each a fresh process: one reading swings by a fifth.
# The cold run before them writes Python's bytecode cache, where the
# environment had kept it from being written.
WARM_RUNS = 5

START = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, '.')
from toylab import LinearRegression, SGD, simulate
rng = np.random.default_rng(0)
A = rng.normal(size=(1000, 10)); model = LinearRegression(A, A @ rng.normal(size=10))
t1 = time.perf_counter()
simulate(model, SGD(0.01, 8), np.zeros(10), [0.01], paths=64, progress=False)
t2 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, first_simulate_s=t2 - t1)))
"""

# Peak resident memory of one workload at many paths, in a fresh process with
# the kernel already cached: what a user's run costs, compilation apart.  Read
# from VmHWM: getrusage's ru_maxrss survives execve, so a child started by this
# (larger) process would report the parent's peak.
MEMORY = """
import json, sys
import numpy as np

def peak_mb():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmHWM')) / 1024

sys.path.insert(0, '.')
from benchmarks.bench_cpu import models, B
from toylab import NGD, SGD, SVAG, EulerMaruyama, simulate
model = models()[{model!r}]
alg = {alg}
x0 = np.full(model.dim, 0.3)
simulate(model, alg, x0, [alg.step_time], paths=64, progress=False)
base = peak_mb()
simulate(model, alg, x0, [{steps} * alg.step_time], paths={paths}, progress=False)
print(json.dumps(dict(base_mb=base, peak_mb=peak_mb())))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    q = args.quick
    import numba

    print(f"# numpy {np.__version__}, numba {numba.__version__}, {numba.get_num_threads()} threads, {os.cpu_count()} cores")
    # The peak before the table and again after it, the larger of the two
    # taken: one reading, on a shared machine, can come in at half the other.
    peak_size = 1000 if q else 2000
    peak_before = dgemm_peak(peak_size)
    algs = [SGD(0.01, B), SVAG(0.01, B, 8), NGD(0.01, B), EulerMaruyama(0.01, B, 0.01)]
    rows = []
    for name, model in models().items():
        rows += [(name, model, alg, "") for alg in algs]
        # the noise drawn per sample, for comparison with what "auto" picked
        per_sample = type(model)(model.A, model.y, noise="per_sample")
        rows += [(name, per_sample, alg, " (per sample)") for alg in algs[2:]]
    measured = []
    for name, model, alg, label in rows:
        cheap = isinstance(alg, (SGD, SVAG))
        steps = 50 if q else (200 if cheap else 50)
        moments = getattr(model, "noise_method", "") == "moments"
        cpu_paths = (20_000 if cheap else 500) if q else (100_000 if cheap else 20_000 if moments else 2_000)
        np_paths = (2_000 if cheap else 200) if q else (10_000 if cheap else 5_000 if moments else 1_000)
        np_steps = steps if cheap else 10
        # the numpy backend's NGD and Euler-Maruyama rates spread 2-3x from run
        # to run on a shared machine (BENCHMARKS.md): two more runs in the median
        r_np = rate(model, alg, np_paths, np_steps, "numpy", args.repeat + (0 if cheap else 2))
        r_cpu = rate(model, alg, cpu_paths, steps, "cpu", args.repeat)
        measured.append((name, type(alg).__name__ + label, r_np, r_cpu, r_cpu * flops(model, alg)))
    peak_after = dgemm_peak(peak_size)
    peak = max(peak_before, peak_after)
    print(f"# dgemm peak (numpy @, float64): {peak / 1e9:.1f} GFLOP/s, the larger of "
          f"{peak_before / 1e9:.1f} (before the table) and {peak_after / 1e9:.1f} (after)")
    print()
    print("| model | algorithm | numpy path-steps/s | cpu path-steps/s | cpu / numpy | cpu GFLOP/s | % of dgemm peak |")
    print("|---|---|---|---|---|---|---|")
    for name, label, r_np, r_cpu, gf in measured:
        print(f"| {name} | {label} | {r_np:.3g} | {r_cpu:.3g} | {r_cpu / r_np:.1f} | {gf / 1e9:.2f} | {100 * gf / peak:.1f} |")
    print()
    # SVAG's cost per path-step relative to SGD's, from alternating runs: the
    # machine's speed drifts between the table's rows
    pairs = 2 if q else 5
    for name, model in models().items():
        ratios = []
        for _ in range(pairs):
            paths = 20_000 if q else 100_000
            ratios.append(rate(model, algs[0], paths, 200, "cpu", 1) / rate(model, algs[1], paths, 200, "cpu", 1))
        print(f"SVAG(8) / SGD cost per path-step, {name}: median {np.median(ratios):.2f} "
              f"of {pairs} alternating pairs (range {min(ratios):.2f}-{max(ratios):.2f})")
    # the reference point, a plain Numba kernel, alternating with the
    # cpu backend's SGD on the same workload
    model = models()["LinearRegression"]
    kernel = plain_sgd_kernel()
    plain, ours = [], []
    for _ in range(pairs):
        paths = 20_000 if q else 100_000
        plain.append(plain_sgd_rate(kernel, model, paths, 200))
        ours.append(rate(model, algs[0], paths, 200, "cpu", 1))
    ratios = np.array(ours) / np.array(plain)
    print(f"plain Numba SGD kernel (SplitMix64, no statistics), LinearRegression: median {np.median(plain):.3g} "
          f"path-steps/s; cpu SGD / plain: median {np.median(ratios):.2f} of {pairs} alternating pairs "
          f"(range {ratios.min():.2f}-{ratios.max():.2f})")
    print()
    with tempfile.TemporaryDirectory() as cache:
        cold = in_fresh_process(START, {"TOYLAB_CACHE_DIR": cache}, bytecode=True)
        warm = [in_fresh_process(START, {"TOYLAB_CACHE_DIR": cache}, bytecode=True) for _ in range(WARM_RUNS)]
    print(f"compile (cold cache, SGD x LinearRegression): {cold['first_simulate_s']:.1f} s")
    imports = [w["import_s"] for w in warm]
    firsts = [w["first_simulate_s"] for w in warm]
    totals = [a + b for a, b in zip(imports, firsts)]
    print(f"warm start-up, median of {WARM_RUNS} fresh processes: import {np.median(imports):.2f} s + first simulate "
          f"{np.median(firsts):.2f} s; the sum {np.median(totals):.2f} s (range {min(totals):.2f}-{max(totals):.2f})")
    mem_paths = 100_000 if q else 1_000_000
    print()
    print(f"Peak memory of {mem_paths:.0e} paths (fresh process, kernel cached; SGD/SVAG 10 steps, NGD/EM 1 step):")
    print()
    print("| model | algorithm | process after warm-up (MB) | peak (MB) |")
    print("|---|---|---|---|")
    for name in models():
        for alg, steps in [("SGD(0.01, B)", 10), ("SVAG(0.01, B, 8)", 10), ("NGD(0.01, B)", 1),
                           ("EulerMaruyama(0.01, B, 0.01)", 1)]:
            mem = in_fresh_process(MEMORY.format(model=name, alg=alg, steps=steps, paths=mem_paths))
            print(f"| {name} | {alg.split('(')[0]} | {mem['base_mb']:.0f} | {mem['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
