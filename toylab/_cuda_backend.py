"""The CUDA backend: the CPU backend's per-path functions as numba.cuda kernels."""

from __future__ import annotations

import numpy as np

from kernels import STAT_BLOCK

from ._compiled import kernel_inputs, paths_in_blocks
from ._progress import Progress
from ._stats import Accumulator

#: Statistics blocks (of STAT_BLOCK paths) per kernel launch.
LAUNCH_BLOCKS = 16384
#: Bytes of device scratch for the samplers' index arrays.
_PERM_BYTES = 256 * 2**20
#: Most CUDA blocks in a grid (the kernel grid-strides over the rest).
_MAX_GRID = 8192


def unavailable_reason():
    """None when a CUDA device can run the kernels, else why not (one sentence)."""
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - numba ships numba.cuda
        return f"numba.cuda cannot be imported ({exc}); install the extra: pip install 'toylab[cuda]'"
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # pragma: no cover - depends on the driver
        return f"backend='cuda' needs an NVIDIA GPU with a working driver and the extra 'toylab[cuda]' ({exc})"
    return (
        "backend='cuda' needs an NVIDIA GPU with a working driver and the extra 'toylab[cuda]' "
        "(pip install 'toylab[cuda]'); none was found, so use backend='cpu' or backend='auto'"
    )


def run(spec, progress):
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    from numba import cuda

    from kernels import cuda as kc

    d, n_obs = spec.model.dim, len(spec.observables)
    if d > kc.MAX_DIM:
        raise ValueError(f"backend='cuda' takes models of dimension d <= {kc.MAX_DIM}, got d={d}; use backend='cpu'")
    if n_obs > kc.MAX_OBS:  # pragma: no cover - user observables are refused before this
        raise ValueError(f"backend='cuda' records at most {kc.MAX_OBS} observables, got {n_obs}")
    kernel = kc.get_kernel(type(spec.model).__name__, type(spec.algorithm).__name__)
    M, v, p, ap, ai, n_perm = kernel_inputs(spec)
    steps = spec.record_steps
    args = [cuda.to_device(a) for a in (spec.x0, M, v, p, ap, ai)]
    d_steps = cuda.to_device(steps)
    R = len(steps)
    total_blocks = -(-spec.paths // STAT_BLOCK)
    grid = max(1, min(_MAX_GRID, total_blocks, _PERM_BYTES // (STAT_BLOCK * 2 * n_perm * 8)))
    perm_all = cuda.device_array((grid * STAT_BLOCK, 2, n_perm), dtype=np.int64)
    acc = Accumulator(R, n_obs)
    seed = np.uint64(spec.seed)
    label = f"simulate {type(spec.algorithm).__name__} [cuda]"
    with Progress(spec.paths * max(spec.n_steps, 1), enabled=progress, label=label) as bar:
        first = 0
        while first < total_blocks:
            nb = min(LAUNCH_BLOCKS, total_blocks - first)
            cnt = cuda.device_array((nb, R), dtype=np.int64)
            mean = cuda.device_array((nb, R, n_obs))
            m2 = cuda.device_array((nb, R, n_obs))
            kernel[min(grid, nb), STAT_BLOCK](
                first, nb, spec.paths, args[0], *args[1:], seed, d_steps, perm_all, cnt, mean, m2
            )
            acc.add_blocks(cnt.copy_to_host(), mean.copy_to_host(), m2.copy_to_host())
            bar.update(paths_in_blocks(first, nb, spec.paths) * max(spec.n_steps, 1))
            first += nb
    return acc, spec.paths - acc.count
