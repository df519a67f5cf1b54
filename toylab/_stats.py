"""Streaming statistics: count, mean and centred sum of squares, merged exactly.

Paths are grouped into fixed blocks of ``STAT_BLOCK`` consecutive paths
(0-63, 64-127, ...).  Each block's statistics are computed on their own.
Blocks are merged with Chan, Golub & LeVeque's update in block order into
fixed groups of ``MERGE_GROUP`` blocks, and the groups are merged in group
order.  Chunks, threads and an executor's workers only ever hold whole blocks
(workers: whole groups), so a result is bit-identical whatever the chunk size,
thread count or number of workers: it depends on the paths alone.

Beside the observables, a run with an exit test keeps, per block, the number
of paths exited by each record time and the count, mean and centred sum of
squares of the exit steps of the paths that exited (``Accumulator``'s
``exited`` and ``exit_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels import STAT_BLOCK

#: Blocks merged into one group before groups are merged (65536 paths): the
#: grain at which a run's paths can be split across workers bit for bit.
MERGE_GROUP = 1024


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


@dataclass
class Group:
    """Merged statistics of consecutive blocks: the observables' (count, mean,
    m2) at each record time, the paths exited by each record time, and the
    (count, mean, m2) of the exit steps."""

    count: np.ndarray  # (R,) int64
    mean: np.ndarray  # (R, O)
    m2: np.ndarray  # (R, O)
    exited: np.ndarray  # (R,) int64
    exit_count: np.ndarray  # (1,) int64
    exit_mean: np.ndarray  # (1, 1)
    exit_m2: np.ndarray  # (1, 1)

    @classmethod
    def empty(cls, n_records, n_observables):
        return cls(
            np.zeros(n_records, dtype=np.int64),
            np.zeros((n_records, n_observables)),
            np.zeros((n_records, n_observables)),
            np.zeros(n_records, dtype=np.int64),
            np.zeros(1, dtype=np.int64),
            np.zeros((1, 1)),
            np.zeros((1, 1)),
        )

    def merge(self, count, mean, m2, exited, exit_count, exit_mean, exit_m2):
        """Merge blocks (leading axis) into this group, in order."""
        # here, not at the top: `import toylab` does not import Numba
        from ._kernels.stats import merge_blocks

        def c(a, dtype=float):
            return np.ascontiguousarray(a, dtype=dtype)

        merge_blocks(c(count, np.int64), c(mean), c(m2), self.count, self.mean, self.m2)
        merge_blocks(c(exit_count, np.int64), c(exit_mean), c(exit_m2), self.exit_count, self.exit_mean,
                     self.exit_m2)
        self.exited += np.asarray(exited, dtype=np.int64).sum(axis=0)


def no_exits(n_blocks, n_records):
    """The exit statistics of blocks in a run without an exit test."""
    return (np.zeros((n_blocks, n_records), dtype=np.int64), np.zeros((n_blocks, 1), dtype=np.int64),
            np.zeros((n_blocks, 1, 1)), np.zeros((n_blocks, 1, 1)))


class Accumulator:
    """Per-record-time statistics of every observable, merged chunk by chunk.

    Blocks arrive in order from ``first_block`` (a multiple of
    ``MERGE_GROUP`` for a part of a run); :attr:`groups` are the finished
    groups, and :meth:`combine` merges groups (of one run, or of its parts
    from several workers, in order) into the totals.
    """

    def __init__(self, n_records, n_observables, first_block=0):
        self.shape = (n_records, n_observables)
        self._groups = []
        self._open = None
        self._next = first_block
        self._totals = None

    def add_blocks(self, count, mean, m2, exits=None):
        """Merge per-block statistics in block order (Chan, Golub & LeVeque's
        update, compiled: ``kernels.stats.merge_blocks``).

        ``count`` (nb, R), ``mean`` and ``m2`` (nb, R, O): block b's statistics
        at every record time; ``exits``: the blocks' ``(exited (nb, R),
        exit_count (nb, 1), exit_mean (nb, 1, 1), exit_m2 (nb, 1, 1))``, or
        None for a run without an exit test.
        """
        nb = len(count)
        if exits is None:
            exits = no_exits(nb, self.shape[0])
        lo = 0
        while lo < nb:
            if self._open is None:
                self._open = Group.empty(*self.shape)
            # up to the end of the current group
            hi = min(nb, lo + MERGE_GROUP - self._next % MERGE_GROUP)
            self._open.merge(count[lo:hi], mean[lo:hi], m2[lo:hi], *(a[lo:hi] for a in exits))
            self._next += hi - lo
            lo = hi
            if self._next % MERGE_GROUP == 0:
                self._groups.append(self._open)
                self._open = None
        self._totals = None

    @property
    def groups(self):
        """The finished groups, the last one possibly partial (the end of the run)."""
        if self._open is not None:
            self._groups.append(self._open)
            self._open = None
        return list(self._groups)

    @classmethod
    def from_groups(cls, groups, n_records, n_observables):
        """An accumulator holding ``groups`` (the parts of one run, in order)."""
        acc = cls(n_records, n_observables)
        acc._groups = list(groups)
        return acc

    @staticmethod
    def combine(groups, shape):
        """The totals of ``groups`` merged in order (a :class:`Group`)."""
        total = Group.empty(*shape)
        if groups:
            stack = {name: np.stack([getattr(g, name) for g in groups]) for name in Group.__dataclass_fields__}
            total.merge(**stack)
        return total

    @property
    def totals(self):
        if self._totals is None:
            self._totals = self.combine(self.groups, self.shape)
        return self._totals

    count = property(lambda self: self.totals.count)
    mean = property(lambda self: self.totals.mean)
    m2 = property(lambda self: self.totals.m2)
    exited = property(lambda self: self.totals.exited)


def paths_in_blocks(first, n_blocks, paths):
    """Paths covered by statistics blocks ``first .. first + n_blocks - 1`` (the last may be partial)."""
    return min((first + n_blocks) * STAT_BLOCK, paths) - min(first * STAT_BLOCK, paths)
