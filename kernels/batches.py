"""The batches of the samplers without replacement, drawn into a path's index array.

One compiled function serves the general engine (``kernels.finite_sum``) and the
fast kernels (``kernels.fast.models``), so both draw the same batches from the
same streams as the NumPy backend (``toylab._numpy_backend.Draws``).
"""

from __future__ import annotations

import numpy as np

#: Random reshuffling's code (``kernels.engine.SAMPLER_CODES``); 1 is without replacement.
RESHUFFLE = 2


def build(jit, rng):
    """``shuffle_batch(perm, n, B, sampler, step, kind, epoch_kind, seed, path, buf, cur) -> start``.

    The batch of ``step`` is left in ``perm[start:start + B]``.  Without
    replacement (``sampler`` 1): a partial Fisher-Yates shuffle of the first B
    places (place b takes b + uniform in [0, n - b)) from stream
    (step, ``kind``), fresh every step.  Random reshuffling (2): at the first
    step of each epoch a shuffle of the first (n // B) B places from stream
    (epoch, ``epoch_kind``), whose consecutive blocks of B are the epoch's
    batches.  ``buf`` and ``cur`` are ``rng.draw_bounded``'s cursor, which the
    caller starts (``cur[0] = 0``).
    """
    draw_bounded = rng.draw_bounded

    @jit
    def shuffle_batch(perm, n, B, sampler, step, kind, epoch_kind, seed, path, buf, cur):
        start = 0
        n_swaps = B
        stream_step = step
        stream_kind = kind
        if sampler == RESHUFFLE:
            per_epoch = n // B
            epoch = step // per_epoch
            start = (step - epoch * per_epoch) * B
            n_swaps = per_epoch * B if start == 0 else 0
            stream_step = epoch
            stream_kind = epoch_kind
        for b in range(n_swaps):
            j = b + int(draw_bounded(buf, cur, seed, path, stream_step, stream_kind, np.uint64(n - b)))
            tmp = perm[b]
            perm[b] = perm[j]
            perm[j] = tmp
        return start

    return shuffle_batch
