"""Per-path model functions, written once and compiled for the CPU and the GPU.

Each model is a namespace of scalar functions of one path's state ``x`` (a 1-D
array of length d) that write into caller-provided scratch arrays and never
allocate, so the same source compiles under ``numba.njit`` and as
``numba.cuda.jit(device=True)``.  The model's data travel as one
:data:`LinearData` named tuple (``toylab._fast.model_data``), the same for
both models:

==========  ============================================================
field       what it holds
==========  ============================================================
A, y        the data set: rows a_i (n, d) and targets y_i (n,)
H, b        A^T A / n and A^T y / n: grad L in O(d^2)
x_ls        the least-squares point of the fit A z ~ y, about which the
            records are taken (z = x, or u = x/|x| on the sphere)
Q, q_ls     (1/n) sum_i |a_i|^2 a_i a_i^T and (1/n) sum_i |a_i|^2 r_i(x_ls)
            a_i, with s_ls = (1/n) sum_i |a_i|^2 r_i(x_ls)^2: tr Sigma_1
loss_ls     L at x_ls, (1/2n) sum_i r_i(x_ls)^2
U, r        the r columns (S_k, s_k) of the noise's moment factor
            (``toylab.models.DataSetModel.moment_factor``) as
            ``toylab._fast`` lays them out, flat (the upper triangle of each
            symmetric S_k, then s_k); r = 0 where the noise is drawn per sample
FT, r4      SphereRegression's records: the factor of the Gram matrix of
            r_i (a_i.u), transposed, flat (``toylab._fast._sphere_quartic_factor``),
            and its number of rows (0 and empty for LinearRegression)
n           the number of samples
==========  ============================================================

Signatures (``aux`` is a scratch array of length >= 2, ``t1`` of length d,
``t2`` of length >= d; a longer ``t2`` lets the noise draw its normals in a
loop that vectorises on the CPU: d + NORMAL_CHUNK for the per-sample noise,
``moment_scratch_length(d, r)`` for the moment factor's, which then also forms
the sums of its r columns for SUMS_AT_ONCE steps at once):

* ``loss(x, data, aux) -> float``; ``grad(x, data, aux, out)``
* ``sigma1_trace(x, data, aux, t1, t2) -> float``  (tr Sigma_1(x))
* ``batch_grad(x, data, B, sampler, perm, buf, cur, seed, path, step, kind,
  epoch_kind, aux, t1, out)``: a batch gradient, drawing the batch from the
  streams exactly as ``toylab._numpy_backend`` documents
* ``noise_unit(x, data, seed, path, step, aux, t1, t2, out)``: a draw of
  N(0, Sigma_1(x)) from the ``KIND_NOISE`` stream, by the model's noise
  method (``data.r``); ``noise_per_sample`` and ``noise_moments`` are its two
  forms alone, which the CPU's kernels take one at a time
* ``batch_sum_lanes(x_lo, x_hi, d, data, B, perm, buf, cur, seed, path,
  step, kind) -> (g_lo, g_hi)`` (the CPU's linear models; None elsewhere):
  B times ``batch_grad`` with replacement, x and the result as an 8-lane
  vector of the first 8 coordinates and a second vector of the rest
  (``kernels.fast.steps.build``'s ``advance``: 4 lanes, d <= 12)

The formulas are those of ``toylab.models`` (the NumPy reference), which the
tests hold these to.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import batches as _batches
from .. import rng as R
from .. import tagged

#: A linear model's data as the fast kernels read it (module docstring).
LinearData = namedtuple(
    "LinearData", ["A", "y", "H", "b", "Q", "x_ls", "q_ls", "loss_ls", "s_ls", "U", "r", "FT", "r4", "n"]
)

#: Normals the CPU draws at once in the per-sample noise (even: whole pairs).
NORMAL_CHUNK = 64

#: Steps whose moment sums (W, w) the CPU forms at once (``moment_sums``, whose
#: loops are written out for four: changing this means rewriting them).
SUMS_AT_ONCE = 4


def moment_scratch_length(d, r):
    """Length of the t2 scratch with which the moment-factor noise forms the sums
    of SUMS_AT_ONCE steps at once (the CPU): d numbers left to the records, a
    stamp of 4, then SUMS_AT_ONCE sums of e = d(d+1)/2 + d numbers and their
    normals, 2 ceil(r/2) a step."""
    e = d * (d + 1) // 2 + d
    return d + 4 + SUMS_AT_ONCE * (e + 2 * ((r + 1) // 2))


def build(jit, xp, rng, hot=None, lanes=None):
    """Compile every model's functions with ``jit``; returns {class name: namespace}.

    ``hot`` (default ``jit``) compiles what runs every step, the batch
    gradient and the per-sample functions it calls B times: the CPU inlines
    them.  ``lanes``: the CPU's 8-lane vectors (``kernels.fast.simd``), or None
    (the GPU).  With them, sampling with replacement draws the batch indices
    of 8 steps at once, and the linear models (LinearRegression,
    SphereRegression) sum their batch gradients in vectors.
    """
    hot = jit if hot is None else hot
    shuffle_batch = _batches.build(hot, rng)
    sqrt = xp.sqrt
    next_normal = rng.next_normal
    fill_normals = rng.fill_normals
    draw_bounded = rng.draw_bounded
    kind_noise = np.uint64(R.KIND_NOISE)
    # offsets added to unsigned positions (uint64 + int64 would be a float64)
    U1, U2, U3, U4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    scratch_length = jit(moment_scratch_length)
    vector_rows = lanes is not None
    # rows of up to two vectors stay in registers (the CPU's d <= 16)
    in_registers = 2 * lanes.LANES if vector_rows else 0
    if lanes is not None:
        bounded_lanes = lanes.bounded_lanes
        index_lanes_tail = lanes.index_lanes_tail
        STEPS_AT_ONCE = lanes.STEPS_AT_ONCE

    # ---------------------------------------------------------------- finite
    def finite(sample_grad_add, prepare, tag, rows_grad=None, rows_lanes=None):
        """batch_grad, noise_unit, sigma1_trace and batch_sum_lanes of a finite data set from its g_i.

        ``sample_grad_add(x, data, i, aux, out)`` adds g_i(x) to ``out``;
        ``tag`` (the model's name) keeps the compiled symbols apart.
        ``rows_grad(x, data, idx, first, stride, B, aux, out)`` (CPU,
        optional) writes the sum of g_i over i = idx[first + stride b],
        b < B, faster than B calls of ``sample_grad_add``.
        ``rows_lanes(x_lo, x_hi, d, data, idx, first, stride, B) -> (g_lo, g_hi)``
        (CPU, optional, d <= 16): the same sum with x and the result in two
        vectors, the second of 8 lanes or (d <= 12) 4; ``batch_sum_lanes``
        (None without it) draws the batch with replacement and calls it.
        """
        tjit = tagged(jit, tag)
        batch_sum_lanes = None

        if lanes is None:

            @tagged(hot, tag)
            def with_replacement(x, data, B, n, perm, buf, cur, seed, path, step, kind, aux, out):
                # out = sum of g_i over B indices uniform in [0, n), each used as
                # drawn (on the GPU, no round trip through the index array)
                for c in range(x.shape[0]):
                    out[c] = 0.0
                for b in range(B):
                    i = int(draw_bounded(buf, cur, seed, path, step, kind, np.uint64(n)))
                    sample_grad_add(x, data, i, aux, out)

        else:
            summed = rows_grad
            if summed is None:

                @tagged(hot, tag)
                def summed(x, data, idx, first, stride, B, aux, out):
                    for c in range(x.shape[0]):
                        out[c] = 0.0
                    for b in range(B):
                        sample_grad_add(x, data, idx[first + stride * b], aux, out)

            @tjit
            def draw_step(buf, cur, seed, path, step, kind, n, B, out, first):
                # B indices of the stream into out[first:], word by word (a call:
                # once in some 5*10^5 steps at n = 1000, B = 8)
                for b in range(B):
                    out[first + b] = draw_bounded(buf, cur, seed, path, step, kind, np.uint64(n))

            @tagged(hot, tag)
            def batch_indices(perm, buf, cur, seed, path, step, kind, n, B):
                # Where in perm the B indices of the step lie: (first, stride).
                # The same indices, drawn 8 steps at a time in vectors
                # (kernels.fast.simd.bounded_lanes), into perm as laid out by
                # kernels.fast.simd.index_lanes_length.  The stamp (step0, path,
                # kind, seed) names the steps perm holds, so any order of
                # calls is served right; a path's steps refill it once in 8.
                lane = step % STEPS_AT_ONCE
                step0 = step - lane
                tail = index_lanes_tail(B)
                # unsigned positions: no wrap-around code for negative ones
                # (see linear_rows_lanes)
                at = np.uint64(tail)
                if not (
                    perm[at + U1] == step0
                    and perm[at + U2] == path
                    and perm[at + U3] == kind
                    and perm[at + U4] == np.int64(seed)
                ):
                    perm[at] = bounded_lanes(seed, path, step0, kind, n, B, perm)
                    perm[at + U1] = step0
                    perm[at + U2] = path
                    perm[at + U3] = kind
                    perm[at + U4] = np.int64(seed)
                if (perm[at] >> lane) & 1:
                    # a word of this step may be rejected: the stream word by word
                    cur[0] = 0
                    draw_step(buf, cur, seed, path, step, kind, n, B, perm, tail + 5)
                    return tail + 5, 1
                return lane, STEPS_AT_ONCE

            @tagged(hot, tag)
            def with_replacement(x, data, B, n, perm, buf, cur, seed, path, step, kind, aux, out):
                first, stride = batch_indices(perm, buf, cur, seed, path, step, kind, n, B)
                summed(x, data, perm, first, stride, B, aux, out)

            if rows_lanes is not None:

                @tagged(hot, tag)
                def batch_sum_lanes(x_lo, x_hi, d, data, B, perm, buf, cur, seed, path, step, kind):
                    # sum_b g_i(x) over the step's batch, sampled with
                    # replacement, for x = (x_lo, x_hi) in registers:
                    # with_replacement without x's round trip through memory
                    # (kernels.fast.steps.build's advance)
                    first, stride = batch_indices(perm, buf, cur, seed, path, step, kind, data.n, B)
                    return rows_lanes(x_lo, x_hi, d, data, perm, first, stride, B)

        @tagged(hot, tag)
        def batch_grad(x, data, B, sampler, perm, buf, cur, seed, path, step, kind, epoch_kind, aux, t1, out):
            d = x.shape[0]
            n = data.n
            cur[0] = 0
            prepare(x, aux)
            if sampler == 0:
                with_replacement(x, data, B, n, perm, buf, cur, seed, path, step, kind, aux, out)
            else:
                for c in range(d):
                    out[c] = 0.0
                # Without replacement the batch is perm[start:start + B]
                # (kernels.batches); then one pass of sample gradients in
                # batch order.
                start = shuffle_batch(perm, n, B, sampler, step, kind, epoch_kind, seed, path, buf, cur)
                for b in range(start, start + B):
                    sample_grad_add(x, data, perm[b], aux, out)
            for c in range(d):
                out[c] = out[c] / B

        @tjit
        def noise_unit(x, data, seed, path, step, aux, t1, t2, out):
            # (1/sqrt(n)) sum_i z_i (g_i - gbar) = (sum_i z_i g_i - (sum_i z_i) gbar) / sqrt(n),
            # one pass over the data; covariance Sigma_1(x) exactly.
            d = x.shape[0]
            n = data.n
            prepare(x, aux)
            for c in range(d):
                out[c] = 0.0
                t2[c] = 0.0
            # The CPU (t2 of length >= d + NORMAL_CHUNK): the normals a chunk
            # at a time, in a loop of Box-Muller pairs that vectorises; the GPU
            # (t2 of length d): each normal as it is used.
            chunked = t2.shape[0] >= d + NORMAL_CHUNK
            zbuf = t2[d:]
            zsum = 0.0
            z1 = 0.0
            for i in range(n):
                if chunked:
                    q = i % NORMAL_CHUNK
                    if q == 0:
                        fill_normals(seed, path, step, kind_noise, i // 2, (min(NORMAL_CHUNK, n - i) + 1) // 2, zbuf)
                    z = zbuf[q]
                else:
                    z, z1 = next_normal(seed, path, step, kind_noise, i, z1)
                for c in range(d):
                    t1[c] = 0.0
                sample_grad_add(x, data, i, aux, t1)
                zsum += z
                for c in range(d):
                    out[c] += z * t1[c]
                    t2[c] += t1[c]
            scale = 1.0 / sqrt(n)
            for c in range(d):
                out[c] = (out[c] - zsum * (t2[c] / n)) * scale

        @tjit
        def sigma1_trace(x, data, aux, t1, t2):
            # tr Sigma_1 = (1/n) sum_i |g_i|^2 - |gbar|^2
            d = x.shape[0]
            n = data.n
            prepare(x, aux)
            for c in range(d):
                t2[c] = 0.0
            sq = 0.0
            for i in range(n):
                for c in range(d):
                    t1[c] = 0.0
                sample_grad_add(x, data, i, aux, t1)
                for c in range(d):
                    sq += t1[c] * t1[c]
                    t2[c] += t1[c]
            mean_sq = 0.0
            for c in range(d):
                mean_sq += (t2[c] / n) * (t2[c] / n)
            return sq / n - mean_sq

        return batch_grad, noise_unit, sigma1_trace, batch_sum_lanes

    # --------------------------------------------------- moment-factor noise
    @jit
    def moment_sums(U, r, e, seed, path, step0, out):
        # (W_j, w_j) = sum_k zeta_jk (S_k, s_k) for the SUMS_AT_ONCE steps
        # step0 + j, into out[j e : (j + 1) e], their normals after them
        # (out[SUMS_AT_ONCE e + 2 pairs j:]).  zeta does not depend on x, so the
        # sums of later steps can be formed ahead, like the batch indices of 8
        # steps.  Each sum adds its terms in the order of one sum alone,
        # ((0 + a0 U0) + a1 U1) + ...: the CPU in vectors (moment_rows), the
        # scalar loops below (four sums x four rows of U a pass, each row
        # loaded once for four sums) where there are none.
        pairs = (r + 1) // 2
        zs = SUMS_AT_ONCE * e
        for j in range(SUMS_AT_ONCE):
            fill_normals(seed, path, step0 + j, kind_noise, 0, pairs, out[zs + 2 * pairs * j :])
        Z0 = out[zs:]
        Z1 = out[zs + 2 * pairs :]
        Z2 = out[zs + 4 * pairs :]
        Z3 = out[zs + 6 * pairs :]
        W0 = out[:e]
        W1 = out[e : 2 * e]
        W2 = out[2 * e : 3 * e]
        W3 = out[3 * e : 4 * e]
        if vector_rows:
            moment_rows(U, r, e, Z0, Z1, Z2, Z3, W0, W1, W2, W3)
            return
        for i in range(zs):
            out[i] = 0.0
        k = 0
        while k + 4 <= r:
            U0 = U[k * e :]
            U1 = U[(k + 1) * e :]
            U2 = U[(k + 2) * e :]
            U3 = U[(k + 3) * e :]
            a00, a01, a02, a03 = Z0[k], Z0[k + 1], Z0[k + 2], Z0[k + 3]
            a10, a11, a12, a13 = Z1[k], Z1[k + 1], Z1[k + 2], Z1[k + 3]
            a20, a21, a22, a23 = Z2[k], Z2[k + 1], Z2[k + 2], Z2[k + 3]
            a30, a31, a32, a33 = Z3[k], Z3[k + 1], Z3[k + 2], Z3[k + 3]
            for i in range(e):
                u0 = U0[i]
                u1 = U1[i]
                u2 = U2[i]
                u3 = U3[i]
                W0[i] = (((W0[i] + a00 * u0) + a01 * u1) + a02 * u2) + a03 * u3
                W1[i] = (((W1[i] + a10 * u0) + a11 * u1) + a12 * u2) + a13 * u3
                W2[i] = (((W2[i] + a20 * u0) + a21 * u1) + a22 * u2) + a23 * u3
                W3[i] = (((W3[i] + a30 * u0) + a31 * u1) + a32 * u2) + a33 * u3
            k += 4
        while k < r:
            U0 = U[k * e :]
            a00, a10, a20, a30 = Z0[k], Z1[k], Z2[k], Z3[k]
            for i in range(e):
                u0 = U0[i]
                W0[i] += a00 * u0
                W1[i] += a10 * u0
                W2[i] += a20 * u0
                W3[i] += a30 * u0
            k += 1

    @hot
    def moments_noise(z, U, r, seed, path, step, wide, out):
        # sum_k zeta_k (S_k z + s_k) = W z + w with (W, w) = sum_k zeta_k (S_k, s_k):
        # the draw of toylab.models.DataSetModel with noise="moments", before
        # the map T(x).  U holds the r rows of e = d(d+1)/2 + d numbers, row k
        # the upper triangle of the symmetric S_k row by row, then s_k
        # (toylab._fast._moment_arrays).  r normals and r e + d^2
        # multiply-adds, whatever n is.  (Indices k e + i from loop counters
        # are provably non-negative, so Numba's wraparound test leaves the
        # loops and LLVM vectorises them.)
        d = z.shape[0]
        tri = d * (d + 1) // 2
        e = tri + d
        if wide.shape[0] >= scratch_length(d, r):
            # The CPU's scratch (moment_scratch_length): after d numbers left
            # to the records (sigma1_trace), the sums (W, w) of SUMS_AT_ONCE
            # steps and a stamp naming them (first step + 1, path + 1, the
            # seed's two 32-bit halves: exact in floats for steps and paths
            # below 2**53, and never matched by a scratch of zeros or NaN).
            # The sums depend on the data set too: the kernels give each call
            # fresh scratch (kernels.fast.cpu.scratch).  A path's steps form them
            # once in SUMS_AT_ONCE.
            lane = step % SUMS_AT_ONCE
            step0 = step - lane
            useed = np.uint64(seed)
            seed_hi = np.float64(useed >> np.uint64(32))
            seed_lo = np.float64(useed & np.uint64(0xFFFFFFFF))
            if not (
                wide[d] == step0 + 1.0
                and wide[d + 1] == path + 1.0
                and wide[d + 2] == seed_hi
                and wide[d + 3] == seed_lo
            ):
                moment_sums(U, r, e, seed, path, step0, wide[d + 4 :])
                wide[d] = step0 + 1.0
                wide[d + 1] = path + 1.0
                wide[d + 2] = seed_hi
                wide[d + 3] = seed_lo
            W = wide[d + 4 + lane * e :]
            if vector_rows and d <= in_registers:
                packed_mv(W, z, d, out)
                return
            for c in range(d):
                out[c] = W[tri + c]
            idx = 0
            for c in range(d):
                out[c] += W[idx] * z[c]
                idx += 1
                for j in range(c + 1, d):
                    out[c] += W[idx] * z[j]
                    out[j] += W[idx] * z[c]
                    idx += 1
        else:
            # d numbers of scratch (the GPU's local arrays): S_k z + s_k per k,
            # S_k[c, j] read from the packed upper triangle
            for c in range(d):
                out[c] = 0.0
            z1 = 0.0
            for k in range(r):
                zeta_k, z1 = next_normal(seed, path, step, kind_noise, k, z1)
                Uk = U[k * e :]
                for c in range(d):
                    acc = Uk[tri + c]
                    for j in range(d):
                        lo = min(c, j)
                        acc += Uk[lo * (2 * d - lo + 1) // 2 + max(c, j) - lo] * z[j]
                    out[c] += zeta_k * acc

    # ------------------------------------- the CPU's batch sums, in vectors
    if lanes is not None:
        vload, vstore, splat, vfma, vmul, vadd, vsub, hsum = (
            lanes.vload, lanes.vstore, lanes.splat, lanes.vfma, lanes.vmul, lanes.vadd, lanes.vsub, lanes.hsum
        )
        fload, fstore = lanes.fload, lanes.fstore
        L = lanes.LANES
        vload_window, hsum8 = lanes.vload_window, lanes.hsum8
        splat_like, vload_like, vfma_low = lanes.splat_like, lanes.vload_like, lanes.vfma_low
        vload4, NARROW = lanes.vload4, lanes.NARROW
        vfrom = lanes.vfrom

        @hot
        def linear_rows_lanes(z_lo, z_hi, d, A, y, idx, first, stride, B, w):
            # linear_rows for d <= 16, z = (z_lo, z_hi) and the sums in
            # registers: (sum_b w_b r_i a_i in two vectors, sum_b w_b r_i (a_i.z)).
            # z_hi, and the second vector of the sum, is an f64x8 or, for
            # d <= 12, an f64x4: each row as its first 8 numbers and the rest
            # (vfma_low).  Two samples a pass, both into one set of sums.
            # A set for each (two chains of dependent additions, half as
            # long) needs three more vector registers than AVX2's 16 hold:
            # one sum went to the stack and back every pass, and SGD ran
            # 1.14x (SphereRegression) and 1.03x (LinearRegression) slower
            # (BENCHMARKS.md).  For d >= 8 a row's
            # first 8 numbers are a plain load: a masked one, even with
            # every lane on, takes longer (AVX2), and the form with both
            # changes ran 1.2x faster than two masked 8-lane vectors at
            # d = 10; the plain load alone gave nothing, the 4-lane vector
            # alone about 1.07x (BENCHMARKS.md).
            lo = min(d, L)
            hi = d - L
            whole = d >= L
            g_lo = splat(0.0)
            g_hi = splat_like(z_hi, 0.0)
            s = 0.0
            b = 0
            while b + 2 <= B:
                # Positions as unsigned integers: Numba adds the length to a
                # negative index (a shift, an and and an add a load), which
                # these never are; the gradient's loop ran 1.14x faster
                # without (BENCHMARKS.md).
                i = first + b if idx is None else idx[np.uint64(first + stride * b)]
                j = first + b + 1 if idx is None else idx[np.uint64(first + stride * (b + 1))]
                a_lo = fload(A, i * d) if whole else vload(A, i * d, lo)
                a_hi = vload_like(z_hi, A, i * d + L, hi)
                c_lo = fload(A, j * d) if whole else vload(A, j * d, lo)
                c_hi = vload_like(z_hi, A, j * d + L, hi)
                az = hsum(vfma_low(a_hi, z_hi, vmul(a_lo, z_lo)))
                cz = hsum(vfma_low(c_hi, z_hi, vmul(c_lo, z_lo)))
                ra = az - y[np.uint64(i)] if w is None else w[b] * (az - y[np.uint64(i)])
                rc = cz - y[np.uint64(j)] if w is None else w[b + 1] * (cz - y[np.uint64(j)])
                s += ra * az
                s += rc * cz
                g_lo = vfma(splat(ra), a_lo, g_lo)
                g_hi = vfma(splat_like(z_hi, ra), a_hi, g_hi)
                g_lo = vfma(splat(rc), c_lo, g_lo)
                g_hi = vfma(splat_like(z_hi, rc), c_hi, g_hi)
                b += 2
            if b < B:
                i = first + b if idx is None else idx[np.uint64(first + stride * b)]
                a_lo = fload(A, i * d) if whole else vload(A, i * d, lo)
                a_hi = vload_like(z_hi, A, i * d + L, hi)
                az = hsum(vfma_low(a_hi, z_hi, vmul(a_lo, z_lo)))
                ra = az - y[np.uint64(i)] if w is None else w[b] * (az - y[np.uint64(i)])
                s += ra * az
                g_lo = vfma(splat(ra), a_lo, g_lo)
                g_hi = vfma(splat_like(z_hi, ra), a_hi, g_hi)
            return g_lo, g_hi, s

        @hot
        def linear_rows(x, scale, A, y, idx, first, stride, B, w, out):
            # With z = scale x and r_i = a_i.z - y_i (a_i row i of A),
            # for i = idx[first + stride b], b < B (i = first + b where idx is
            # None) and weights w_b (1 where w is None; Numba compiles each
            # None apart): out = sum_b w_b r_i a_i, and sum_b w_b r_i (a_i.z)
            # returned.  The batch sums of SGD, and the per-sample noise's
            # sum_i zeta_i r_i a_i (noise_rows).  Each row is 8 numbers a vector
            # (masked at its end), each residual one vector product and a
            # horizontal sum: as scalar loops, the d additions of a dot
            # product are a chain that LLVM may not reorder.
            d = x.shape[0]
            sz = splat(scale)
            s = 0.0
            if d <= in_registers:
                lo = min(d, L)
                hi = d - L
                g_lo, g_hi, s = linear_rows_lanes(
                    vmul(vload(x, 0, lo), sz), vmul(vload(x, L, hi), sz), d, A, y, idx, first, stride, B, w
                )
                vstore(out, 0, lo, g_lo)
                vstore(out, L, hi, g_hi)
                return s
            for c in range(d):
                out[c] = 0.0
            for b in range(B):
                i = first + b if idx is None else idx[first + stride * b]
                acc = splat(0.0)
                for c0 in range(0, d, L):
                    acc = vfma(vload(A, i * d + c0, d - c0), vmul(vload(x, c0, d - c0), sz), acc)
                az = hsum(acc)
                r = az - y[i] if w is None else w[b] * (az - y[i])
                s += r * az
                rv = splat(r)
                for c0 in range(0, d, L):
                    vstore(out, c0, d - c0, vfma(rv, vload(A, i * d + c0, d - c0), vload(out, c0, d - c0)))
            return s

        @jit
        def noise_rows(x, scale, A, y, seed, path, step, t2, out):
            # sum_i zeta_i r_i a_i into out over all n rows, the normals
            # NORMAL_CHUNK at a time into t2[d:], each chunk's sum into t2[:d]
            # (linear_rows); returns (sum_i zeta_i r_i (a_i.z), sum_i zeta_i),
            # with z = scale x
            d = x.shape[0]
            n = A.shape[0]
            part = t2[:d]
            zbuf = t2[d:]
            for c in range(d):
                out[c] = 0.0
            s = 0.0
            zsum = 0.0
            for i0 in range(0, n, NORMAL_CHUNK):
                count = min(NORMAL_CHUNK, n - i0)
                fill_normals(seed, path, step, kind_noise, i0 // 2, (count + 1) // 2, zbuf)
                s += linear_rows(x, scale, A, y, None, i0, 1, count, zbuf, part)
                for c in range(d):
                    out[c] += part[c]
                for b in range(count):
                    zsum += zbuf[b]
            return s, zsum

        @hot
        def moment_rows(U, r, e, Z0, Z1, Z2, Z3, W0, W1, W2, W3):
            # moment_sums' sums W_j = sum_k Z_j[k] U_k, every number of them:
            # 8 numbers of the four sums a pass over the r rows, each in a
            # vector register from its first term to its last.  The terms are
            # added in the order of one sum alone, ((0 + Z[0] U_0) + Z[1] U_1)
            # + ..., as in moment_sums' scalar loops, so the same bits.  Why
            # not W in memory, four rows a pass: the 8-lane splats of 16
            # factors do not fit AVX2's 16 registers and spill, and each pass
            # loads and stores every W; and the last e mod 8 numbers of each
            # row (one at d = 10) cost a quarter of the sums in scalar chains
            # through W (BENCHMARKS.md).
            full = e - e % L
            for i in range(0, full, L):
                s0 = splat(0.0)
                s1 = splat(0.0)
                s2 = splat(0.0)
                s3 = splat(0.0)
                at = i
                for k in range(r):
                    u = fload(U, at)
                    s0 = vadd(s0, vmul(splat(Z0[k]), u))
                    s1 = vadd(s1, vmul(splat(Z1[k]), u))
                    s2 = vadd(s2, vmul(splat(Z2[k]), u))
                    s3 = vadd(s3, vmul(splat(Z3[k]), u))
                    at += e
                fstore(W0, i, s0)
                fstore(W1, i, s1)
                fstore(W2, i, s2)
                fstore(W3, i, s3)
            # the rest, at most 7 numbers a row, in 4-lane vectors (masked loads
            # and stores: four stores a call)
            for i in range(full, e, NARROW):
                count = min(NARROW, e - i)
                u = vload4(U, i, count)
                s0 = splat_like(u, 0.0)
                s1 = s0
                s2 = s0
                s3 = s0
                at = i
                for k in range(r):
                    u = vload4(U, at, count)
                    s0 = vadd(s0, vmul(splat_like(u, Z0[k]), u))
                    s1 = vadd(s1, vmul(splat_like(u, Z1[k]), u))
                    s2 = vadd(s2, vmul(splat_like(u, Z2[k]), u))
                    s3 = vadd(s3, vmul(splat_like(u, Z3[k]), u))
                    at += e
                vstore(W0, i, count, s0)
                vstore(W1, i, count, s1)
                vstore(W2, i, count, s2)
                vstore(W3, i, count, s3)

        @hot
        def upper_row(W, z_lo, z_hi, c, d, lo, hi):
            # (S_cj z_j for j > c) in lane j (two vectors, added), from row c
            # of the packed upper triangle, S_cj at c(2d - c + 1)/2 + j - c;
            # zero where c >= d - 1 (no lane lies in either window)
            at = c * (2 * d - c + 1) // 2 - c
            return vfma(vload_window(W, at + L, c + 1 - L, hi), z_hi, vmul(vload_window(W, at, c + 1, lo), z_lo))

        @hot
        def upper_eight(W, z_lo, z_hi, c0, d, lo, hi):
            # lane c - c0 holds sum_{j > c} S_cj z_j for the rows c0 .. c0 + 7
            return hsum8(
                upper_row(W, z_lo, z_hi, c0, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 1, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 2, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 3, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 4, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 5, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 6, d, lo, hi),
                upper_row(W, z_lo, z_hi, c0 + 7, d, lo, hi),
            )

        @jit
        def packed_mv(W, z, d, out):
            # (a call, not inlined: its sixteen inlined window loads and
            # horizontal sums were a third of a cold compile of the noise's
            # kernel, and the call costs little beside the step)
            # out = S z + s for the symmetric S packed as its upper triangle row
            # by row, then s (W), where d <= 16.  Row c is loaded with each
            # column j in lane j (kernels.fast.simd.vload_window), so that
            #   out_j += S_cj z_c for j >= c    is a vector multiply-add, and
            #   out_c += sum_{j > c} S_cj z_j   a product whose lanes hsum8
            # adds for eight rows at once, where the scalar form's additions
            # are a chain through out.
            lo = min(d, L)
            hi = d - L
            z_lo = vload(z, 0, lo)
            z_hi = vload(z, L, hi)
            acc_lo = vload(W, d * (d + 1) // 2, lo)
            acc_hi = vload(W, d * (d + 1) // 2 + L, hi)
            at = 0
            for c in range(d):
                zc = splat(z[c])
                acc_lo = vfma(vload_window(W, at, c, lo), zc, acc_lo)
                acc_hi = vfma(vload_window(W, at + L, c - L, hi), zc, acc_hi)
                at += d - c - 1
            vstore(out, 0, lo, vadd(acc_lo, upper_eight(W, z_lo, z_hi, 0, d, lo, hi)))
            if hi > 0:
                vstore(out, L, hi, vadd(acc_hi, upper_eight(W, z_lo, z_hi, L, d, lo, hi)))

        @hot
        def h_minus_b_lanes(x, scale, H, b, out):
            # h_minus_b with out in two vector registers (d <= 16): the same
            # products added in the same order, so the same bits
            d = x.shape[0]
            lo = min(d, L)
            hi = d - L
            acc_lo = splat(0.0)
            acc_hi = splat(0.0)
            for k in range(d):
                zk = splat(scale * x[k])
                acc_lo = vadd(acc_lo, vmul(zk, vload(H, k * d, lo)))
                acc_hi = vadd(acc_hi, vmul(zk, vload(H, k * d + L, hi)))
            vstore(out, 0, lo, vsub(acc_lo, vload(b, 0, lo)))
            vstore(out, L, hi, vsub(acc_hi, vload(b, L, hi)))

        @hot
        def quad_lanes(x, scale, K, x_ls):
            # quad_ls for d <= 16: the d numbers sum_k e_k K[k, c] as two
            # vectors, a multiply-add a row, then e.(that) as one vector
            # product and a horizontal sum.  e^T K e = e^T K^T e, so rows
            # serve for columns whatever K; in the scalar form each of the d
            # sums is a chain of d dependent additions (BENCHMARKS.md).
            d = x.shape[0]
            lo = min(d, L)
            hi = d - L
            sz = splat(scale)
            e_lo = vsub(vmul(vload(x, 0, lo), sz), vload(x_ls, 0, lo))
            e_hi = vsub(vmul(vload(x, L, hi), sz), vload(x_ls, L, hi))
            acc_lo = splat(0.0)
            acc_hi = splat(0.0)
            for k in range(d):
                ek = splat(scale * x[k] - x_ls[k])
                acc_lo = vfma(ek, vload(K, k * d, lo), acc_lo)
                acc_hi = vfma(ek, vload(K, k * d + L, hi), acc_hi)
            return hsum(vfma(e_hi, acc_hi, vmul(e_lo, acc_lo)))

    # the CPU draws the per-sample noise of the linear models through
    # noise_rows, and forms the moment noise's S z + s through packed_mv
    if not vector_rows:

        @jit
        def noise_rows(x, scale, A, y, seed, path, step, t2, out):  # never called (GPU)
            return 0.0, 0.0

        @jit
        def moment_rows(U, r, e, Z0, Z1, Z2, Z3, W0, W1, W2, W3):  # never called (GPU)
            pass

        @jit
        def packed_mv(W, z, d, out):  # never called (GPU)
            pass

        @jit
        def h_minus_b_lanes(x, scale, H, b, out):  # never called (GPU)
            pass

        @jit
        def quad_lanes(x, scale, K, x_ls):  # never called (GPU)
            return 0.0

    # ------------------------------------------------------ LinearRegression
    @hot
    def lr_prepare(x, aux):
        pass

    @hot
    def lr_residual(x, A, y, i):
        # r_i = a_i.x - y_i
        r = 0.0
        for c in range(x.shape[0]):
            r += A[i, c] * x[c]
        return r - y[i]

    @hot
    def lr_sample_grad_add(x, data, i, aux, out):
        # g_i = a_i (a_i.x - y_i)
        r = lr_residual(x, data.A, data.y, i)
        for c in range(x.shape[0]):
            out[c] += data.A[i, c] * r

    # About the least-squares point x_ls of the fit A z ~ y, with e = z - x_ls:
    # the records of LinearRegression (z = x) and of SphereRegression
    # (z = u = x/|x|) in O(d^2), written once with z = scale x.
    @jit
    def quad_ls(x, scale, K, x_ls):
        # e^T K e with e = scale x - x_ls and K a symmetric d x d matrix (H or Q)
        d = x.shape[0]
        if vector_rows and d <= in_registers:
            return quad_lanes(x, scale, K, x_ls)
        s = 0.0
        for c in range(d):
            ke = 0.0
            for k in range(d):
                ke += K[c, k] * (scale * x[k] - x_ls[k])
            s += (scale * x[c] - x_ls[c]) * ke
        return s

    @jit
    def sq_residual_ls(x, scale, data):
        # (1/n) sum_i |a_i|^2 r_i^2 with r_i = r_i(x_ls) + a_i.e:
        #   s_ls + 2 q_ls.e + e^T Q e,
        # Q = (1/n) sum_i |a_i|^2 a_i a_i^T, q_ls = (1/n) sum_i |a_i|^2 r_i(x_ls) a_i,
        # s_ls = (1/n) sum_i |a_i|^2 r_i(x_ls)^2
        d = x.shape[0]
        s = data.s_ls + quad_ls(x, scale, data.Q, data.x_ls)
        for c in range(d):
            s += 2.0 * data.q_ls[c] * (scale * x[c] - data.x_ls[c])
        return s

    @hot
    def h_minus_b(x, scale, H, b, out):
        # out = H z - b with z = scale x, H = A^T A / n and b = A^T y / n;
        # H symmetric: out += z_k H[k, :] row by row, a loop over c that
        # vectorises, where a dot product per c is a chain of d additions;
        # each out[c] adds its terms in the order of k
        d = x.shape[0]
        if vector_rows and d <= in_registers:
            h_minus_b_lanes(x, scale, H, b, out)
            return
        for c in range(d):
            out[c] = 0.0
        for k in range(d):
            zk = scale * x[k]
            for c in range(d):
                out[c] += zk * H[k, c]
        for c in range(d):
            out[c] -= b[c]

    @jit
    def lr_loss(x, data, aux):
        # About the least-squares point x_ls (where grad L = 0), with e = x - x_ls:
        #   L(x) = L_ls + e^T H e / 2,
        # O(d^2) instead of O(n d), and a sum of two non-negative terms: no
        # cancellation, however close x is to x_ls.
        return data.loss_ls + 0.5 * quad_ls(x, 1.0, data.H, data.x_ls)

    @hot
    def lr_grad(x, data, aux, out):
        # grad L = H x - b with the precomputed H and b
        h_minus_b(x, 1.0, data.H, data.b, out)

    @jit
    def lr_trace(x, data, aux, t1, t2):
        # tr Sigma_1 = (1/n) sum_i |a_i|^2 r_i^2 - |grad L|^2, with r_i = r_i(x_ls) + a_i.e:
        #   (1/n) sum_i |a_i|^2 r_i^2 = s_ls + 2 q_ls.e + e^T Q e (sq_residual_ls):
        # O(d^2) per record.
        d = x.shape[0]
        s = sq_residual_ls(x, 1.0, data)
        lr_grad(x, data, aux, t1)
        for c in range(d):
            s -= t1[c] * t1[c]
        return s

    lr_rows_grad = None
    lr_rows_lanes = None
    if lanes is not None:

        @hot
        def lr_rows_grad(x, data, idx, first, stride, B, aux, out):
            linear_rows(x, 1.0, data.A, data.y, idx, first, stride, B, None, out)

        @hot
        def lr_rows_lanes(x_lo, x_hi, d, data, idx, first, stride, B):
            g_lo, g_hi, _ = linear_rows_lanes(x_lo, x_hi, d, data.A, data.y, idx, first, stride, B, None)
            return g_lo, g_hi

    lr_batch, lr_noise_per_sample, _, lr_batch_lanes = finite(
        lr_sample_grad_add, lr_prepare, "LinearRegression", lr_rows_grad, lr_rows_lanes
    )

    @hot
    def lr_noise_per_sample_form(x, data, seed, path, step, aux, t1, t2, out):
        # (1/sqrt(n)) (sum_i zeta_i g_i - (sum_i zeta_i) grad L): on the CPU
        # (t2 of length >= d + NORMAL_CHUNK) the first sum in vectors
        # (noise_rows), grad L = H x - b; else one sample at a time
        if vector_rows and t2.shape[0] >= x.shape[0] + NORMAL_CHUNK:
            zs = noise_rows(x, 1.0, data.A, data.y, seed, path, step, t2, out)[1]
            lr_grad(x, data, aux, t1)
            scale = 1.0 / sqrt(data.n)
            for c in range(x.shape[0]):
                out[c] = (out[c] - zs * t1[c]) * scale
            return
        lr_noise_per_sample(x, data, seed, path, step, aux, t1, t2, out)

    @hot
    def lr_noise_moments(x, data, seed, path, step, aux, t1, t2, out):
        # the moment factor's data.r columns, z(x) = x - x_ls and T(x) the identity
        for c in range(x.shape[0]):
            t1[c] = x[c] - data.x_ls[c]
        moments_noise(t1, data.U, data.r, seed, path, step, t2, out)

    @hot
    def lr_noise(x, data, seed, path, step, aux, t1, t2, out):
        # data.r columns of the moment factor (0: one normal per sample)
        if data.r == 0:
            lr_noise_per_sample_form(x, data, seed, path, step, aux, t1, t2, out)
        else:
            lr_noise_moments(x, data, seed, path, step, aux, t1, t2, out)

    # ----------------------------------------- SphereRegression's records
    if lanes is not None:

        @jit
        def quartic_sum(e, FT, d, r4):
            # |F q|^2 with q_t = et_a et_b (a <= b), et = (e, 1), and F^T
            # stored row t by row t (r4 numbers each): (F q) = sum_t q_t F^T[t]
            # 32 numbers a pass in four vectors, a multiply-add a t and
            # vector.  Four vectors (eight 4-lane registers on AVX2) leave
            # room in the 16 registers for q; with eight, and masked loads,
            # the sums and the masks went to the stack and back at every t,
            # 4-5x slower (BENCHMARKS.md).  Where r4 >= 32 every load is a
            # plain one: the last pass starts at r4 - 32, overlapping the
            # one before, and drops the lanes that pass counted (vfrom).
            # Where r4 < 32, one pass of masked loads (zeros past r4).
            total = splat(0.0)
            plain = r4 >= 4 * L
            for j0 in range(0, r4, 4 * L):
                at = min(j0, r4 - 4 * L) if plain else j0
                n0 = r4 - at
                s0 = splat(0.0)
                s1 = splat(0.0)
                s2 = splat(0.0)
                s3 = splat(0.0)
                t = 0
                for a in range(d + 1):
                    ea = e[a] if a < d else 1.0
                    for b in range(a, d + 1):
                        q = splat(ea * e[b] if b < d else ea)
                        base = t * r4 + at
                        if plain:
                            s0 = vfma(q, fload(FT, base), s0)
                            s1 = vfma(q, fload(FT, base + L), s1)
                            s2 = vfma(q, fload(FT, base + 2 * L), s2)
                            s3 = vfma(q, fload(FT, base + 3 * L), s3)
                        else:
                            s0 = vfma(q, vload(FT, base, n0), s0)
                            s1 = vfma(q, vload(FT, base + L, n0 - L), s1)
                            s2 = vfma(q, vload(FT, base + 2 * L, n0 - 2 * L), s2)
                            s3 = vfma(q, vload(FT, base + 3 * L, n0 - 3 * L), s3)
                        t += 1
                # the lanes below j0 - at were counted by the pass before
                done = j0 - at
                s0 = vfrom(s0, done)
                s1 = vfrom(s1, done - L)
                s2 = vfrom(s2, done - 2 * L)
                s3 = vfrom(s3, done - 3 * L)
                total = vfma(s0, s0, vfma(s1, s1, vfma(s2, s2, vfma(s3, s3, total))))
            return hsum(total)

    else:

        @jit
        def quartic_sum(e, FT, d, r4):
            # |F q|^2 with q_t = et_a et_b (a <= b), et = (e, 1), F^T row t by row t
            quartic = 0.0
            for j in range(r4):
                acc = 0.0
                t = 0
                for a in range(d + 1):
                    ea = e[a] if a < d else 1.0
                    for b in range(a, d + 1):
                        acc += FT[t * r4 + j] * (ea * e[b] if b < d else ea)
                        t += 1
                quartic += acc * acc
            return quartic

    # ------------------------------------------------------ SphereRegression
    @hot
    def sp_prepare(x, aux):
        s = 0.0
        for c in range(x.shape[0]):
            s += x[c] * x[c]
        # 1/|x| once per step: a division costs several multiplications, and a
        # sample gradient needs 2d + 1 of them
        aux[0] = sqrt(s)
        aux[1] = 1.0 / aux[0]

    @hot
    def sp_cosine(x, A, i, inv_norm):
        # a_i.u with u = x / |x|
        au = 0.0
        for c in range(x.shape[0]):
            au += A[i, c] * (x[c] * inv_norm)
        return au

    @hot
    def sp_sample_grad_add(x, data, i, aux, out):
        # g_i = r_i (a_i - (a_i.u) u) / |x|, r_i = a_i.u - y_i  (needs sp_prepare)
        inv_norm = aux[1]
        au = sp_cosine(x, data.A, i, inv_norm)
        r = au - data.y[i]
        for c in range(x.shape[0]):
            out[c] += r * (data.A[i, c] - au * (x[c] * inv_norm)) * inv_norm

    @jit
    def sp_loss(x, data, aux):
        # L = (1/2n) |A u - y|^2 with u = x/|x|.  About the least-squares point
        # x_ls of the unconstrained fit A u ~ y, e = u - x_ls:
        #   L = L_ls + e^T H e / 2,
        # O(d^2) instead of O(n d), and a sum of two non-negative terms: no
        # cancellation (LinearRegression's loss at u).
        sp_prepare(x, aux)
        return data.loss_ls + 0.5 * quad_ls(x, aux[1], data.H, data.x_ls)

    @hot
    def sp_grad(x, data, aux, out):
        # L(x) = u^T H u / 2 - b.u + |y|^2 / 2n with u = x/|x|, H = A^T A / n
        # and b = A^T y / n, so grad L = P_u (H u - b) / |x|, P_u = I - u u^T:
        # O(d^2) a call where the mean of the n per-sample gradients takes
        # O(n d).  H u as u_k H[k, :] row by row (h_minus_b).
        d = x.shape[0]
        sp_prepare(x, aux)
        inv_norm = aux[1]
        h_minus_b(x, inv_norm, data.H, data.b, out)
        ug = 0.0
        for c in range(d):
            ug += (x[c] * inv_norm) * out[c]
        for c in range(d):
            out[c] = (out[c] - ug * (x[c] * inv_norm)) * inv_norm

    sp_rows_grad = None
    sp_rows_lanes = None
    if lanes is not None:

        @hot
        def sp_rows_grad(x, data, idx, first, stride, B, aux, out):
            # sum_b g_i = (sum_b r_i a_i - (sum_b r_i a_i.u) u) / |x|  (needs sp_prepare)
            inv_norm = aux[1]
            s = linear_rows(x, inv_norm, data.A, data.y, idx, first, stride, B, None, out)
            for c in range(x.shape[0]):
                out[c] = (out[c] - s * (x[c] * inv_norm)) * inv_norm

        @hot
        def sp_rows_lanes(x_lo, x_hi, d, data, idx, first, stride, B):
            # sp_rows_grad with x in registers; |x|^2 as a horizontal sum
            # (sp_prepare adds the squares in order: the same up to rounding)
            inv_norm = 1.0 / sqrt(hsum(vfma_low(x_hi, x_hi, vmul(x_lo, x_lo))))
            si_lo = splat(inv_norm)
            si_hi = splat_like(x_hi, inv_norm)
            u_lo = vmul(x_lo, si_lo)
            u_hi = vmul(x_hi, si_hi)
            g_lo, g_hi, s = linear_rows_lanes(u_lo, u_hi, d, data.A, data.y, idx, first, stride, B, None)
            return (
                vmul(vsub(g_lo, vmul(splat(s), u_lo)), si_lo),
                vmul(vsub(g_hi, vmul(splat_like(x_hi, s), u_hi)), si_hi),
            )

    sp_batch, sp_noise_per_sample, _, sp_batch_lanes = finite(
        sp_sample_grad_add, sp_prepare, "SphereRegression", sp_rows_grad, sp_rows_lanes
    )

    @jit
    def sp_trace(x, data, aux, t1, t2):
        # tr Sigma_1 = (1/n) sum_i |g_i|^2 - |grad L|^2 with
        # |g_i|^2 = r_i^2 (|a_i|^2 - p_i^2) / |x|^2, p_i = a_i.u, r_i = p_i - y_i.
        # About x_ls (toylab._fast._sphere_quartic_factor), e = u - x_ls:
        #   (1/n) sum_i r_i^2 |a_i|^2 = s_ls + 2 q_ls.e + e^T Q e   (LinearRegression's, at u)
        #   (1/n) sum_i (r_i p_i)^2 = |F q|^2,  q_t = et_a et_b (a <= b), et = (e, 1)
        # (quartic_sum): at most 66 x 66 multiply-adds at d = 10, where the sum
        # over the samples takes O(n d).
        d = x.shape[0]
        sp_prepare(x, aux)
        inv_norm = aux[1]
        s = sq_residual_ls(x, inv_norm, data)
        for c in range(d):
            t1[c] = x[c] * inv_norm - data.x_ls[c]
        quartic = quartic_sum(t1, data.FT, d, data.r4)
        sp_grad(x, data, aux, t1)
        g2 = 0.0
        for c in range(d):
            g2 += t1[c] * t1[c]
        return (s - quartic) * inv_norm * inv_norm - g2

    @hot
    def sp_noise_per_sample_form(x, data, seed, path, step, aux, t1, t2, out):
        # (1/sqrt(n)) (sum_i zeta_i g_i - (sum_i zeta_i) grad L) with
        # sum_i zeta_i g_i = (sum_i zeta_i r_i a_i - (sum_i zeta_i r_i p_i) u) / |x|:
        # on the CPU in vectors (noise_rows), else one sample at a time
        d = x.shape[0]
        if vector_rows and t2.shape[0] >= d + NORMAL_CHUNK:
            sp_prepare(x, aux)
            inv_norm = aux[1]
            sr, zs = noise_rows(x, inv_norm, data.A, data.y, seed, path, step, t2, out)
            for c in range(d):
                out[c] = (out[c] - sr * (x[c] * inv_norm)) * inv_norm
            sp_grad(x, data, aux, t1)
            scale = 1.0 / sqrt(data.n)
            for c in range(d):
                out[c] = (out[c] - zs * t1[c]) * scale
            return
        sp_noise_per_sample(x, data, seed, path, step, aux, t1, t2, out)

    @hot
    def sp_noise_moments(x, data, seed, path, step, aux, t1, t2, out):
        # the moment factor's data.r columns, z(x) = u = x/|x| and
        # T(x) w = (w - (u.w) u)/|x|
        d = x.shape[0]
        sp_prepare(x, aux)
        for c in range(d):
            t1[c] = x[c] * aux[1]
        moments_noise(t1, data.U, data.r, seed, path, step, t2, out)
        uw = 0.0
        for c in range(d):
            uw += t1[c] * out[c]
        for c in range(d):
            out[c] = (out[c] - uw * t1[c]) * aux[1]

    @hot
    def sp_noise(x, data, seed, path, step, aux, t1, t2, out):
        # data.r columns of the moment factor (0: one normal per sample)
        if data.r == 0:
            sp_noise_per_sample_form(x, data, seed, path, step, aux, t1, t2, out)
        else:
            sp_noise_moments(x, data, seed, path, step, aux, t1, t2, out)

    def ns(loss, grad, trace, batch, noise, noise_per_sample, noise_moments, batch_lanes=None):
        return {
            "loss": loss,
            "grad": grad,
            "sigma1_trace": trace,
            "batch_grad": batch,
            "noise_unit": noise,
            "noise_per_sample": noise_per_sample,
            "noise_moments": noise_moments,
            "batch_sum_lanes": batch_lanes,
        }

    return {
        "LinearRegression": ns(
            lr_loss, lr_grad, lr_trace, lr_batch, lr_noise, lr_noise_per_sample_form, lr_noise_moments, lr_batch_lanes
        ),
        "SphereRegression": ns(
            sp_loss, sp_grad, sp_trace, sp_batch, sp_noise, sp_noise_per_sample_form, sp_noise_moments, sp_batch_lanes
        ),
    }
