"""GPU throughput of backend="cuda" against backend="cpu" on the same machine, in one run.

    python benchmarks/bench_cuda.py                      # 10^6 and 10^7 paths (needs a GPU)
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/bench_cuda.py --paths 128 --steps 2 --cpu-paths 128
                                                         # smoke run on the CUDA simulator

Workloads as in the CPU benchmark: SGD, SVAG(l=8), NGD and Euler-Maruyama on
LinearRegression and SphereRegression (d = 10, n = 1000, B = 8), float64.
Reports path-steps per second (median of --repeat runs) and the ratio to the
cpu backend on all of this machine's cores, plus the GPU memory in use.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cpu import B, models  # noqa: E402
from toylab import NGD, SGD, SVAG, EulerMaruyama, simulate  # noqa: E402


def rate(model, alg, paths, steps, backend, repeat):
    t_end = [steps * alg.step_time]
    x0 = np.full(model.dim, 0.3)
    simulate(model, alg, x0, t_end, paths=64, progress=False, backend=backend)  # compile
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        simulate(model, alg, x0, t_end, paths=paths, seed=1, progress=False, backend=backend)
        runs.append(time.perf_counter() - t)
    return paths * steps / np.median(runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, nargs="+", default=[10**6, 10**7])
    parser.add_argument("--steps", type=int, default=100, help="steps for SGD and SVAG (NGD, EM: a tenth)")
    parser.add_argument("--cpu-paths", type=int, default=10**5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import numba
    from numba import cuda

    try:
        gpu = cuda.get_current_device().name
    except AttributeError:  # the CUDA simulator
        gpu = "CUDA simulator"
    gpu = gpu.decode() if isinstance(gpu, bytes) else gpu
    print(f"# GPU: {gpu}; cpu backend: {numba.get_num_threads()} threads")
    print("| model | algorithm | paths | cuda path-steps/s | cpu path-steps/s | cuda / cpu |")
    print("|---|---|---|---|---|---|")
    for name, model in models().items():
        for alg in [SGD(0.01, B), SVAG(0.01, B, 8), NGD(0.01, B), EulerMaruyama(0.01, B, 0.01)]:
            steps = args.steps if isinstance(alg, (SGD, SVAG)) else max(1, args.steps // 10)
            r_cpu = rate(model, alg, args.cpu_paths, steps, "cpu", args.repeat)
            for paths in args.paths:
                r_gpu = rate(model, alg, paths, steps, "cuda", args.repeat)
                print(f"| {name} | {type(alg).__name__} | {paths:.0e} | {r_gpu:.3g} | {r_cpu:.3g} | {r_gpu / r_cpu:.1f} |")
    try:
        free, total = cuda.current_context().get_memory_info()
    except Exception:  # the simulator has no memory info
        return
    if np.isfinite(total):
        print(f"GPU memory in use after the runs: {(total - free) / 2**20:.0f} MiB of {total / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
