"""The compiled CPU backend: generated Numba kernels over blocks of paths."""

from __future__ import annotations

import time

import numba
import numpy as np

from kernels import STAT_BLOCK
from kernels.compiling import faster_compiles

from ._compiled import kernel_inputs, noise_scratch_length, paths_in_blocks
from ._progress import Progress
from ._stats import Accumulator
from .algorithms import NGD, EulerMaruyama

#: Wall time aimed at per chunk: short enough for a live progress bar and a
#: prompt Ctrl-C (Numba returns to Python only between chunks).
CHUNK_SECONDS = 0.25
#: Per-block statistics and scratch held at once (floats): bounds a chunk's
#: memory (~16 MB) whatever the number of paths.
_MAX_STAT_FLOATS = 2_000_000


def kernel_for(spec):
    from kernels import cpu

    user = tuple(fn for _, fn in spec.user_observables)
    n_builtin = len(spec.observables) - len(spec.user_observables)
    return cpu.get_kernel(type(spec.model).__name__, type(spec.algorithm).__name__, user, n_builtin)


def run(spec, progress):
    """Run ``spec`` chunk by chunk of whole statistics blocks; (Accumulator, diverged)."""
    from kernels.cpu import perm_length, scratch

    kernel = kernel_for(spec)
    M, v, p, ap, ai, n_perm = kernel_inputs(spec)
    n_perm = perm_length(n_perm, int(ai[0]))
    steps = spec.record_steps
    R, O = len(steps), len(spec.observables)
    acc = Accumulator(R, O)
    total_blocks = -(-spec.paths // STAT_BLOCK)
    threads = numba.get_num_threads()
    # the noise's scratch only where a step draws noise (the records use t2's
    # first d numbers): kernels.cpu.scratch fills it, which touches its pages
    draws_noise = isinstance(spec.algorithm, (NGD, EulerMaruyama))
    n_wide = noise_scratch_length(spec.model) if draws_noise else spec.model.dim
    # per block: statistics (2 R O floats) and scratch (4 d + n_wide floats, 2 index arrays)
    cap = max(1, _MAX_STAT_FLOATS // (2 * R * O + 4 * spec.model.dim + n_wide + 2 * n_perm + 8))
    if spec.chunk_size is not None:
        fixed = max(1, -(-spec.chunk_size // STAT_BLOCK))
    else:
        fixed = None
    chunk = min(fixed or threads, cap)
    seed = np.uint64(spec.seed)
    label = f"simulate {type(spec.algorithm).__name__} [cpu]"
    # the first call of a kernel compiles it (or loads it from the disk cache)
    with faster_compiles(), Progress(spec.paths * max(spec.n_steps, 1), enabled=progress, label=label) as bar:
        first = 0
        while first < total_blocks:
            nb = min(chunk, total_blocks - first)
            cnt = np.zeros((nb, R), dtype=np.int64)
            mean = np.zeros((nb, R, O))
            m2 = np.zeros((nb, R, O))
            start = time.perf_counter()
            work = scratch(nb, spec.model.dim, O, n_perm, n_wide)
            kernel(first, nb, spec.paths, spec.x0, M, v, p, ap, ai, seed, steps, *work, cnt, mean, m2)
            # freed before the next chunk's is filled: one chunk's scratch at a time
            del work
            elapsed = time.perf_counter() - start
            acc.add_blocks(cnt, mean, m2)
            bar.update(paths_in_blocks(first, nb, spec.paths) * max(spec.n_steps, 1))
            first += nb
            if fixed is None:
                # grow towards CHUNK_SECONDS of work, in whole rounds of threads
                target = nb * CHUNK_SECONDS / max(elapsed, 1e-4)
                chunk = int(min(cap, max(threads, min(4 * nb, target))))
    return acc, spec.paths - acc.count
