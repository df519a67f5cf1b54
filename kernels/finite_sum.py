"""A finite-sum model's compiled functions, from its two per-sample functions.

A finite data set of n rows (``data.rows``, shape (n, k)) and per-sample

* ``sample_loss(x, row) -> float``: l_i(x) with row = data.rows[i]
* ``sample_grad(x, row, out)``: writes g_i(x) = grad l_i(x) into ``out`` (length d)

written in the Numba subset (loops, no allocation) give every function of the
engine's model protocol (``kernels.engine``): L = (1/n) sum_i l_i, its
gradient, a batch gradient under every sampler, an exact Gaussian draw of
Sigma_1(x) from n normals, and the records' ``record``: L, grad L and
tr Sigma_1 in one pass over the data.  Each is the formula of
``toylab.models.FiniteSum`` (the NumPy reference), and draws its random
numbers from the streams the NumPy backend documents.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from . import batches as _batches
from . import rng as R


def build(jit, sample_loss, sample_grad):
    """The namespace of compiled functions of the engine's model protocol."""
    rng = R.build(jit, math)
    draw_bounded = rng.draw_bounded
    shuffle_batch = _batches.build(jit, rng)
    next_normal = rng.next_normal
    sqrt = math.sqrt
    kind_noise = np.uint64(R.KIND_NOISE)
    k_batch1, k_batch2 = np.uint64(R.KIND_BATCH1), np.uint64(R.KIND_BATCH2)
    k_epoch1, k_epoch2 = np.uint64(R.KIND_EPOCH1), np.uint64(R.KIND_EPOCH2)

    @jit
    def add_sample_grad(x, rows, i, t, out):
        # out += g_i(x), through the scratch t
        sample_grad(x, rows[i], t)
        for c in range(x.shape[0]):
            out[c] += t[c]

    @jit
    def grad(x, data, t, out):
        # grad L(x) = (1/n) sum_i g_i(x)
        rows = data.rows
        n = rows.shape[0]
        for c in range(x.shape[0]):
            out[c] = 0.0
        for i in range(n):
            add_sample_grad(x, rows, i, t, out)
        for c in range(x.shape[0]):
            out[c] = out[c] / n

    @jit
    def batch_grad(x, data, B, sampler, which, k, path, seed, perm, buf, cur, t, out):
        # (1/B) sum_{i in batch} g_i(x), the batch drawn as the NumPy backend
        # draws it: with replacement, B indices of stream (k, KIND_BATCH)
        # used as drawn; without replacement and reshuffling, the path's
        # index array shuffled (kernels.batches)
        rows = data.rows
        n = rows.shape[0]
        kind = k_batch1 if which == 0 else k_batch2
        cur[0] = 0
        for c in range(x.shape[0]):
            out[c] = 0.0
        if sampler == 0:
            for b in range(B):
                i = int(draw_bounded(buf, cur, seed, path, k, kind, np.uint64(n)))
                add_sample_grad(x, rows, i, t, out)
        else:
            epoch_kind = k_epoch1 if which == 0 else k_epoch2
            start = shuffle_batch(perm, n, B, sampler, k, kind, epoch_kind, seed, path, buf, cur)
            for b in range(start, start + B):
                add_sample_grad(x, rows, perm[b], t, out)
        for c in range(x.shape[0]):
            out[c] = out[c] / B

    @jit
    def noise(x, data, k, path, seed, t, t2, out):
        # (1/sqrt(n)) sum_i z_i (g_i - grad L) = (sum_i z_i g_i - (sum_i z_i) grad L) / sqrt(n),
        # one pass over the data: covariance Sigma_1(x) exactly, n normals
        rows = data.rows
        n = rows.shape[0]
        d = x.shape[0]
        for c in range(d):
            out[c] = 0.0
            t2[c] = 0.0
        zsum = 0.0
        carry = 0.0
        for i in range(n):
            z, carry = next_normal(seed, path, k, kind_noise, i, carry)
            sample_grad(x, rows[i], t)
            zsum += z
            for c in range(d):
                out[c] += z * t[c]
                t2[c] += t[c]
        scale = 1.0 / sqrt(n)
        for c in range(d):
            out[c] = (out[c] - zsum * (t2[c] / n)) * scale

    @jit
    def record(x, data, t, out):
        # L(x) = (1/n) sum_i l_i, grad L(x) = (1/n) sum_i g_i into out and
        # tr Sigma_1(x) = (1/n) sum_i |g_i|^2 - |grad L|^2, in one pass over the
        # data (the records' cost is O(n d) a record time; three passes cost
        # three times that)
        rows = data.rows
        n = rows.shape[0]
        d = x.shape[0]
        for c in range(d):
            out[c] = 0.0
        s = 0.0
        sq = 0.0
        for i in range(n):
            s += sample_loss(x, rows[i])
            sample_grad(x, rows[i], t)
            for c in range(d):
                sq += t[c] * t[c]
                out[c] += t[c]
        mean_sq = 0.0
        for c in range(d):
            out[c] = out[c] / n
            mean_sq += out[c] * out[c]
        return s / n, sq / n - mean_sq

    return SimpleNamespace(grad=grad, batch_grad=batch_grad, noise=noise, record=record)
