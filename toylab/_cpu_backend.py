"""The compiled CPU backend: the general engine, or the fast kernels where they apply.

``toylab._fast.choose`` decides before anything compiles.  Either way the
kernel runs whole statistics blocks of ``STAT_BLOCK`` paths, chunk by chunk,
and the blocks are merged in order, so results do not depend on the thread
count or the chunking.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from . import _fast
from ._kernels import STAT_BLOCK, python_copy
from ._kernels.cache import code_hash, source_digest
from ._progress import Progress
from ._stats import Accumulator, no_exits, paths_in_blocks

#: Wall time aimed at per chunk: short enough for a live progress bar and a
#: prompt Ctrl-C (Numba returns to Python only between chunks).
CHUNK_SECONDS = 0.25
#: Per-block statistics and scratch held at once (floats): bounds a chunk's
#: memory (~16 MB) whatever the number of paths.
_MAX_STAT_FLOATS = 2_000_000


def label(spec, backend="cpu"):
    return f"{type(spec.algorithm).__name__} x {type(spec.model).__name__} for {backend}"


def announce(spec, ready, backend="cpu"):
    """One line on stderr while a kernel compiles (not when it is ``ready``: compiled
    in this process or held by the disk cache), progress bar or not: on the
    CPU once per machine and kernel."""
    if not ready:
        where = "once per machine" if backend == "cpu" else "once per process"
        sys.stderr.write(f"toylab: compiling {label(spec, backend)}, {where} ...\n")
        sys.stderr.flush()


def general_kernel(spec):
    """``(run_blocks, cached)`` of the general engine for ``spec`` (``kernels.cpu``)."""
    from ._kernels import cpu

    build, functions = spec.model.kernel_functions()
    compiled_step = type(spec.algorithm).compiled_step
    user = tuple(fn for _, fn in spec.user_observables)
    key = code_hash(source_digest(), build, functions, compiled_step, user,
                    () if spec.exit is None else (spec.exit,))
    # the model's own functions (the observables, the exit test) are compiled for
    # the kernel from their Python source, as copies that kernels.cpu names by the key
    functions = tuple(python_copy(f) for f in functions)
    user = tuple(python_copy(f) for f in user)
    exit_test = None if spec.exit is None else python_copy(spec.exit)
    return cpu.get_kernel(key, lambda jit: build(jit, *map(jit, functions)), compiled_step, user, label(spec),
                          exit_test)


def run(spec, progress):
    """Run ``spec``'s blocks; returns the Accumulator."""
    fast = _fast.choose(spec.model, spec.algorithm) if spec.exit is None else None
    runner = _FastRunner(spec, fast) if fast else _GeneralRunner(spec)
    announce(spec, runner.cached or bool(runner.kernel.signatures))
    steps = spec.record_steps
    R, O = len(steps), len(spec.observables)
    # compiled (or loaded from the disk cache) by a call on no blocks before the
    # progress bar starts, so its rate and time left are those of the simulation
    runner(0, 0, _block_arrays(0, R, O))
    first, end = spec.block_range
    acc = Accumulator(R, O, first_block=first)
    threads = numba.get_num_threads()
    cap = max(1, _MAX_STAT_FLOATS // (2 * R * O + runner.scratch_floats_per_block))
    fixed = max(1, -(-spec.chunk_size // STAT_BLOCK)) if spec.chunk_size is not None else None
    chunk = min(fixed or threads, cap)
    name = f"simulate {type(spec.algorithm).__name__} [cpu]"
    with Progress(spec.paths_in_range * max(spec.n_steps, 1), enabled=progress, label=name) as bar:
        while first < end:
            nb = min(chunk, end - first)
            out = _block_arrays(nb, R, O)
            start = time.perf_counter()
            runner(first, nb, out)
            elapsed = time.perf_counter() - start
            acc.add_blocks(*out[:3], exits=out[3:])
            bar.update(paths_in_blocks(first, nb, spec.paths) * max(spec.n_steps, 1))
            first += nb
            if fixed is None:
                # grow towards CHUNK_SECONDS of work, in whole rounds of threads
                target = nb * CHUNK_SECONDS / max(elapsed, 1e-4)
                chunk = int(min(cap, max(threads, min(4 * nb, target))))
    runner.close()
    return acc


def _block_arrays(nb, R, O):
    """What a kernel writes for nb blocks: (count, mean, m2) of the observables, then
    the exit statistics (``toylab._stats.no_exits``)."""
    return (np.zeros((nb, R), dtype=np.int64), np.zeros((nb, R, O)), np.zeros((nb, R, O))) + no_exits(nb, R)


class _GeneralRunner:
    """The general engine (``kernels.cpu``): one kernel call per thread, each on
    its own contiguous range of the chunk's blocks with one path's scratch."""

    def __init__(self, spec):
        self.spec = spec
        self.kernel, self.cached = general_kernel(spec)
        self.threads = numba.get_num_threads()
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        d, O = spec.model.dim, len(spec.observables)
        n_perm = spec.index_array_length
        self.scratch = [
            (
                np.zeros((5, d)),
                np.zeros((spec.algorithm.state_vectors, d)),
                np.zeros((2, n_perm), dtype=np.int64),
                np.zeros(4, dtype=np.uint64),
                np.zeros(1, dtype=np.int64),
                np.zeros(O),
            )
            for _ in range(self.threads)
        ]
        self.scratch_floats_per_block = 0
        self.args = (
            spec.paths,
            spec.x0,
            spec.model.kernel_data(),
            spec.algorithm.kernel_params(spec.model),
            np.uint64(spec.seed),
            spec.record_steps,
            spec.trace_factor,
            spec.n_builtin,
        )

    def _call(self, first, nb, scratch, out):
        self.kernel(first, nb, *self.args, *scratch, *out)

    def __call__(self, first, nb, out):
        if nb == 0:
            # no blocks to share out: one call, which compiles the kernel
            self._call(first, 0, self.scratch[0], out)
            return
        # contiguous ranges of blocks, one a thread
        bounds = np.linspace(0, nb, min(self.threads, nb) + 1).astype(int)
        parts = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        if self.pool is None or len(parts) == 1:
            for t, (a, b) in enumerate(parts):
                self._call(first + a, b - a, self.scratch[t], [o[a:b] for o in out])
            return
        futures = [
            self.pool.submit(self._call, first + a, b - a, self.scratch[t], [o[a:b] for o in out])
            for t, (a, b) in enumerate(parts)
        ]
        for f in futures:
            f.result()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


class _FastRunner:
    """The fast kernels (``kernels.fast.cpu``): ``prange`` over the chunk's blocks,
    with per-block scratch."""

    def __init__(self, spec, fast_model):
        from ._kernels.fast import cpu

        self.spec = spec
        user = tuple(fn for _, fn in spec.user_observables)
        self.kernel, self.cached = cpu.get_kernel(
            fast_model, type(spec.algorithm).__name__, user, spec.n_builtin, form=_fast.kernel_form(spec)
        )
        data, params = _fast.kernel_inputs(spec)
        self.n_perm = cpu.perm_length(spec.index_array_length, int(params.batch_size))
        self.inputs = (data, params)
        # the noise's scratch only where a step draws noise (the records use t2's
        # first d numbers): kernels.fast.cpu.scratch fills it, which touches its pages
        d = spec.model.dim
        self.n_wide = _fast.noise_scratch_length(spec.model) if spec.algorithm.gaussian_noise else d
        # per block: scratch of 4 d + n_wide floats and 2 index arrays
        self.scratch_floats_per_block = 4 * d + self.n_wide + 2 * self.n_perm + 8

    def __call__(self, first, nb, out):
        from ._kernels.fast.cpu import scratch

        spec = self.spec
        work = scratch(nb, spec.model.dim, len(spec.observables), self.n_perm, self.n_wide)
        # the fast kernels take no exit test (one is run by the general engine)
        self.kernel(first, nb, spec.paths, spec.x0, *self.inputs, np.uint64(spec.seed), spec.record_steps, *work,
                    *out[:3])

    def close(self):
        pass
