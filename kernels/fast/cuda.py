"""The fast kernels on the GPU: the per-path functions of ``kernels.fast.models`` and
``kernels.fast.steps`` compiled as ``numba.cuda`` device functions, in the
general engine's layout (``kernels.cuda``).

Layout: one thread per path, one CUDA block of ``STAT_BLOCK`` threads per
statistics block, grid-stride over statistics blocks.  A path's state lives in
local arrays (registers or local memory); the index arrays of the samplers
without replacement, too long for local memory, live in a global scratch
array, one row per thread.  At each record time every thread writes its
observables to shared memory and thread 0 reduces the block's paths in path
order with Welford's update (the order of the CPU kernel); the host merges the
blocks in block order.  Results are therefore deterministic from run to run
and equal to the CPU backend's up to floating-point rounding: the random
streams are the same (``kernels.rng``).

Importing this module needs ``numba.cuda``; it works under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) as on a GPU.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from .. import STAT_BLOCK
from ..cuda import MAX_DIM, MAX_OBS, record_block
from . import steps as _steps
from . import target as _target

_GPU = _target.build(cuda.jit(device=True))
RNG, MODELS, STEPS, OBSERVE = _GPU.rng, _GPU.models, _GPU.steps, _GPU.observe
START_PATH, FINITE = _GPU.start_path, _GPU.finite

_KERNELS = {}


def get_kernel(model, algorithm):
    """The CUDA kernel for (model class name, algorithm class name), compiled once per process."""
    if model not in MODELS:
        raise ValueError(f"no CUDA kernel for model {model!r}")
    if algorithm not in _steps.ALGORITHMS:
        raise ValueError(f"no CUDA kernel for algorithm {algorithm!r}")
    # Euler-Maruyama runs NGD's step (with its own coefficients)
    key = (model, _steps.SHARED_STEPS.get(algorithm, algorithm))
    if key not in _KERNELS:
        _KERNELS[key] = _make_kernel(STEPS[model][key[1]], OBSERVE[model])
    return _KERNELS[key]


def _make_kernel(step, observe):
    @cuda.jit
    def run_blocks(first_block, n_blocks, paths, x0, data, params, seed, record_steps, perm_all, cnt, mean, m2):
        sh_obs = cuda.shared.array((STAT_BLOCK, MAX_OBS), np.float64)
        sh_alive = cuda.shared.array(STAT_BLOCK, np.int32)
        xl = cuda.local.array(MAX_DIM, np.float64)
        gl = cuda.local.array(MAX_DIM, np.float64)
        g2l = cuda.local.array(MAX_DIM, np.float64)
        t1l = cuda.local.array(MAX_DIM, np.float64)
        t2l = cuda.local.array(MAX_DIM, np.float64)
        aux = cuda.local.array(2, np.float64)
        obsl = cuda.local.array(MAX_OBS, np.float64)
        buf = cuda.local.array(4, np.uint64)
        cur = cuda.local.array(1, np.int64)
        tid = cuda.threadIdx.x
        row = cuda.blockIdx.x * STAT_BLOCK + tid
        d = x0.shape[0]
        R = record_steps.shape[0]
        n_obs = mean.shape[2]
        n_steps = record_steps[R - 1]
        x = xl[:d]
        g = gl[:d]
        g2 = g2l[:d]
        t1 = t1l[:d]
        t2 = t2l[:d]
        obs = obsl[:n_obs]
        perm1 = perm_all[row, 0]
        perm2 = perm_all[row, 1]
        for bi in range(cuda.blockIdx.x, n_blocks, cuda.gridDim.x):
            path = (first_block + bi) * STAT_BLOCK + tid
            alive = path < paths
            START_PATH(x, x0, perm1, perm2)
            r = 0
            k = 0
            while True:
                while r < R and record_steps[r] == k:
                    if alive:
                        observe(x, data, params, aux, t1, t2, obs)
                    record_block(tid, alive, obs, sh_obs, sh_alive, bi, r, cnt, mean, m2)
                    r += 1
                if k == n_steps:
                    break
                if alive:
                    step(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2)
                    alive = FINITE(x)
                k += 1

    return run_blocks
