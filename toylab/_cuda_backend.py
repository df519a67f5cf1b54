"""The CUDA backend: the general engine, or the fast kernels where they apply, as numba.cuda kernels."""

from __future__ import annotations

import numpy as np

from . import _fast
from ._kernels import STAT_BLOCK
from ._progress import Progress
from ._stats import Accumulator, no_exits, paths_in_blocks

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


def _to_device(data):
    """A named tuple of arrays and numbers with its arrays copied to the GPU."""
    from numba import cuda

    return type(data)(*(cuda.to_device(np.ascontiguousarray(f)) if isinstance(f, np.ndarray) else f for f in data))


def _general_launch(spec):
    """The general engine's kernel and its arguments after the first three."""
    from numba import cuda

    from ._kernels import cuda as kc
    from ._kernels.cache import code_hash, source_digest

    build, functions = spec.model.kernel_functions()
    compiled_step = type(spec.algorithm).compiled_step
    key = code_hash(source_digest(), build, functions, compiled_step, () if spec.exit is None else (spec.exit,))
    # a model's own functions (and the exit test) compile for the GPU from their Python source
    functions = tuple(kc.DEVICE(getattr(f, "py_func", f)) for f in functions)
    exit_test = None if spec.exit is None else getattr(spec.exit, "py_func", spec.exit)
    kernel = kc.get_kernel(key, lambda jit: build(jit, *functions), compiled_step, exit_test)
    args = (
        cuda.to_device(spec.x0),
        _to_device(spec.model.kernel_data()),
        spec.algorithm.kernel_params(spec.model),
        np.uint64(spec.seed),
        cuda.to_device(spec.record_steps),
        spec.trace_factor,
        np.int64(spec.algorithm.state_vectors),
    )
    return kernel, args


def _fast_launch(spec, fast_model):
    """The fast kernel (``kernels.fast.cuda``) and its arguments after the first three."""
    from numba import cuda

    from ._kernels.fast import cuda as kf

    kernel = kf.get_kernel(fast_model, type(spec.algorithm).__name__)
    data, params = _fast.kernel_inputs(spec)
    args = (cuda.to_device(spec.x0), _to_device(data), params, np.uint64(spec.seed), cuda.to_device(spec.record_steps))
    return kernel, args


def run(spec, progress):
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    from numba import cuda

    from ._cpu_backend import announce
    from ._kernels import cuda as kc

    d, n_obs = spec.model.dim, len(spec.observables)
    if d > kc.MAX_DIM:
        raise ValueError(f"backend='cuda' takes models of dimension d <= {kc.MAX_DIM}, got d={d}; use backend='cpu'")
    if n_obs > kc.MAX_OBS:  # pragma: no cover - user observables are refused before this
        raise ValueError(f"backend='cuda' records at most {kc.MAX_OBS} observables, got {n_obs}")
    if spec.algorithm.state_vectors > kc.MAX_STATE:
        raise ValueError(
            f"backend='cuda' takes algorithms with at most {kc.MAX_STATE} state vectors, "
            f"{type(spec.algorithm).__name__} has {spec.algorithm.state_vectors}; use backend='cpu'"
        )
    fast = _fast.choose(spec.model, spec.algorithm) if spec.exit is None else None
    kernel, args = _fast_launch(spec, fast) if fast else _general_launch(spec)
    # numba.cuda compiles once per process, on the first launch
    announce(spec, bool(getattr(kernel, "overloads", None)), backend="cuda")
    n_perm = spec.index_array_length
    R = len(spec.record_steps)
    first, end = spec.block_range
    grid = max(1, min(_MAX_GRID, end - first, _PERM_BYTES // (STAT_BLOCK * 2 * n_perm * 8)))
    perm_all = cuda.device_array((grid * STAT_BLOCK, 2, n_perm), dtype=np.int64)
    acc = Accumulator(R, n_obs, first_block=first)
    label = f"simulate {type(spec.algorithm).__name__} [cuda]"
    with Progress(spec.paths_in_range * max(spec.n_steps, 1), enabled=progress, label=label) as bar:
        while first < end:
            nb = min(LAUNCH_BLOCKS, end - first)
            out = [cuda.device_array((nb, R), dtype=np.int64), cuda.device_array((nb, R, n_obs)),
                   cuda.device_array((nb, R, n_obs))]
            if fast is None:
                out += [cuda.to_device(a) for a in no_exits(nb, R)]
            kernel[min(grid, nb), STAT_BLOCK](first, nb, spec.paths, *args, perm_all, *out)
            host = [a.copy_to_host() for a in out]
            acc.add_blocks(*host[:3], exits=host[3:] or None)
            bar.update(paths_in_blocks(first, nb, spec.paths) * max(spec.n_steps, 1))
            first += nb
    return acc
