"""Streaming statistics: count, mean and centred sum of squares, merged exactly.

Paths are grouped into fixed blocks of ``STAT_BLOCK`` consecutive paths
(0-63, 64-127, ...).  Each block's statistics are computed on their own, and
blocks are merged with Chan, Golub & LeVeque's update in block order.  Chunks
and threads only ever hold whole blocks, so a result is bit-identical whatever
the chunk size or thread count: it depends on the paths alone.
"""

from __future__ import annotations

import numpy as np

from ._kernels import STAT_BLOCK


def block_stats(values, alive):
    """Statistics of each block of a chunk that starts on a block boundary.

    ``values`` (P, O), ``alive`` (P,) bool.  Returns ``n (nb,)``,
    ``mean (nb, O)``, ``m2 (nb, O)`` over the alive paths of each block.
    """
    P, O = values.shape
    nb = -(-P // STAT_BLOCK)
    pad = nb * STAT_BLOCK - P
    v = np.concatenate([values, np.zeros((pad, O))]).reshape(nb, STAT_BLOCK, O)
    w = np.concatenate([alive, np.zeros(pad, dtype=bool)]).reshape(nb, STAT_BLOCK)
    v = np.where(w[:, :, None], v, 0.0)
    n = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n[:, None] > 0, v.sum(axis=1) / np.maximum(n, 1)[:, None], 0.0)
    dev = np.where(w[:, :, None], v - mean[:, None, :], 0.0)
    return n, mean, np.sum(dev * dev, axis=1)


class Accumulator:
    """Per-record-time statistics of every observable, merged chunk by chunk."""

    def __init__(self, n_records, n_observables):
        self.count = np.zeros(n_records, dtype=np.int64)
        self.mean = np.zeros((n_records, n_observables))
        self.m2 = np.zeros((n_records, n_observables))

    def add_blocks(self, count, mean, m2):
        """Merge per-block statistics in block order (Chan, Golub & LeVeque's
        update, compiled: ``kernels.stats.merge_blocks``).

        ``count`` (nb, R), ``mean`` and ``m2`` (nb, R, O): block b's statistics
        at every record time.
        """
        # here, not at the top: `import toylab` does not import Numba
        from ._kernels.stats import merge_blocks

        merge_blocks(
            np.ascontiguousarray(count, dtype=np.int64),
            np.ascontiguousarray(mean, dtype=float),
            np.ascontiguousarray(m2, dtype=float),
            self.count,
            self.mean,
            self.m2,
        )


def paths_in_blocks(first, n_blocks, paths):
    """Paths covered by statistics blocks ``first .. first + n_blocks - 1`` (the last may be partial)."""
    return min((first + n_blocks) * STAT_BLOCK, paths) - min(first * STAT_BLOCK, paths)
