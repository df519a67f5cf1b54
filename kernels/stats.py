"""The merge of per-block statistics, compiled: every backend's last step.

Each backend hands ``toylab._stats.Accumulator`` the count, mean and centred
sum of squares of every block of ``STAT_BLOCK`` paths at every record time,
and the blocks are merged one by one in block order.  In Python that merge
cost some 27 us a block, 6 % of a run of SGD on 10^5 paths (BENCHMARKS.md);
compiled, a few nanoseconds a number.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def merge_blocks(count, mean, m2, acc_count, acc_mean, acc_m2):
    """Merge blocks ``b = 0, 1, ...`` into the accumulators, in that order.

    Chan, Golub & LeVeque's update of (n, mean, M2) by a group (n_b, mean_b,
    M2_b): n = n_a + n_b, w = n_b / n (0 where n = 0),
    delta = mean_b - mean_a, mean = mean_a + delta w and
    M2 = M2_a + M2_b + delta^2 n_a w.

    ``count`` (nb, R) int64, ``mean`` and ``m2`` (nb, R, O): the blocks'
    statistics at every record time; ``acc_count`` (R,), ``acc_mean`` and
    ``acc_m2`` (R, O), updated in place.
    """
    nb, R, O = mean.shape
    for b in range(nb):
        for r in range(R):
            na = acc_count[r]
            nk = count[b, r]
            n = na + nk
            w = nk / n if n > 0 else 0.0
            for o in range(O):
                ma = acc_mean[r, o]
                delta = mean[b, r, o] - ma
                acc_mean[r, o] = ma + delta * w
                acc_m2[r, o] = acc_m2[r, o] + m2[b, r, o] + delta * delta * na * w
            acc_count[r] = n
