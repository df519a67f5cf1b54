"""The general engine on the GPU: ``numba.cuda`` kernels from the same per-path functions.

Layout: one thread per path, one CUDA block of ``STAT_BLOCK`` threads per
statistics block, grid-stride over statistics blocks.  A path's state lives in
local arrays; the index arrays of the samplers without replacement, too long
for local memory, live in a global scratch array, one row per thread.  At each
record time every thread writes its observables to shared memory and thread 0
reduces the block's paths in path order with Welford's update (the order of
the CPU kernels); the host merges the blocks in block order.  Results are
therefore deterministic from run to run and equal to the CPU backend's up to
floating-point rounding: the random streams are the same (``kernels.rng``).

Importing this module needs ``numba.cuda``; it works under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) as on a GPU.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from . import STAT_BLOCK
from . import engine

#: Largest dimension d the CUDA kernels take (local arrays need a fixed size).
MAX_DIM = 64
#: Largest number of observables recorded per path.
MAX_OBS = 8
#: Largest number of an algorithm's state vectors beyond x.
MAX_STATE = 2

DEVICE = cuda.jit(device=True)


@DEVICE
def record_block(tid, alive, obs, sh_obs, sh_alive, bi, r, cnt, mean, m2):
    """Reduce the block's observables at record r into cnt[bi, r], mean[bi, r], m2[bi, r].

    Every thread of the block calls it (the loop bounds are the same for every
    thread, so syncthreads is safe); thread 0 adds the live paths in path order.
    """
    n_obs = mean.shape[2]
    if alive:
        for o in range(n_obs):
            sh_obs[tid, o] = obs[o]
    sh_alive[tid] = 1 if alive else 0
    cuda.syncthreads()
    if tid == 0:
        n = 0
        for o in range(n_obs):
            mean[bi, r, o] = 0.0
            m2[bi, r, o] = 0.0
        for j in range(STAT_BLOCK):
            if sh_alive[j] != 0:
                n += 1
                for o in range(n_obs):
                    delta = sh_obs[j, o] - mean[bi, r, o]
                    mean[bi, r, o] += delta / n
                    m2[bi, r, o] += delta * (sh_obs[j, o] - mean[bi, r, o])
        cnt[bi, r] = n
    cuda.syncthreads()


@DEVICE
def record_exits(tid, exit_step, sh_exit, bi, record_steps, ex_cnt, ex_n, ex_mean, ex_m2):
    """Reduce the block's exit steps (0: not exited) into ex_cnt[bi] (paths exited
    by each record), ex_n[bi, 0], ex_mean[bi, 0, 0], ex_m2[bi, 0, 0] (count, mean
    and centred sum of squares of the exit steps), thread 0 in path order."""
    sh_exit[tid] = exit_step
    cuda.syncthreads()
    if tid == 0:
        n = 0
        mu = 0.0
        sq = 0.0
        for q in range(record_steps.shape[0]):
            ex_cnt[bi, q] = 0
        for j in range(STAT_BLOCK):
            k = sh_exit[j]
            if k > 0:
                n += 1
                delta = k - mu
                mu += delta / n
                sq += delta * (k - mu)
                for q in range(record_steps.shape[0]):
                    if k <= record_steps[q]:
                        ex_cnt[bi, q] += 1
        ex_n[bi, 0] = n
        ex_mean[bi, 0, 0] = mu
        ex_m2[bi, 0, 0] = sq
    cuda.syncthreads()


_KERNELS = {}


def get_kernel(key, build_model, compiled_step, exit_test=None):
    """The CUDA kernel for ``key`` (a hash of the code it runs), compiled once per process."""
    if key not in _KERNELS:
        fns = engine.compose(DEVICE, build_model(DEVICE), compiled_step, exit_test=exit_test)
        _KERNELS[key] = _make_kernel(fns.start, fns.step, fns.finite, fns.observe, fns.exited)
    return _KERNELS[key]


def _make_kernel(start, step, finite, observe, exited):
    @cuda.jit
    def run_blocks(first_block, n_blocks, paths, x0, data, params, seed, record_steps, trace_factor, n_state,
                   perm_all, cnt, mean, m2, ex_cnt, ex_n, ex_mean, ex_m2):
        sh_obs = cuda.shared.array((STAT_BLOCK, MAX_OBS), np.float64)
        sh_alive = cuda.shared.array(STAT_BLOCK, np.int32)
        sh_exit = cuda.shared.array(STAT_BLOCK, np.int64)
        xl = cuda.local.array(MAX_DIM, np.float64)
        gl = cuda.local.array(MAX_DIM, np.float64)
        g2l = cuda.local.array(MAX_DIM, np.float64)
        t1l = cuda.local.array(MAX_DIM, np.float64)
        t2l = cuda.local.array(MAX_DIM, np.float64)
        statel = cuda.local.array((MAX_STATE, MAX_DIM), np.float64)
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
        state = statel[:n_state, :d]
        obs = obsl[:n_obs]
        perm1 = perm_all[row, 0]
        perm2 = perm_all[row, 1]
        for bi in range(cuda.blockIdx.x, n_blocks, cuda.gridDim.x):
            path = (first_block + bi) * STAT_BLOCK + tid
            alive = path < paths
            start(x, state, x0, perm1, perm2)
            exit_step = 0
            r = 0
            k = 0
            while True:
                while r < R and record_steps[r] == k:
                    if alive:
                        observe(x, data, t1, t2, trace_factor, obs)
                    record_block(tid, alive, obs, sh_obs, sh_alive, bi, r, cnt, mean, m2)
                    r += 1
                if k == n_steps:
                    break
                if alive:
                    step(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2)
                    # the exit test before the divergence test, as on the CPU
                    if exited(x):
                        exit_step = k + 1
                        alive = False
                    else:
                        alive = finite(x)
                k += 1
            record_exits(tid, exit_step, sh_exit, bi, record_steps, ex_cnt, ex_n, ex_mean, ex_m2)

    return run_blocks
