"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11; Random123).

Why counter-based: the random numbers of path ``p`` at step ``k`` are a pure
function of ``(seed, p, k, kind, block)``.  Nothing is carried from one path to
the next, so an ensemble gives bit-identical streams whatever the thread count,
chunk size, path range or backend that computes it.

Layout of one Philox call
-------------------------
* key     = (seed mod 2**32, seed >> 32)
* counter = (step, kind << 24 | block, path mod 2**32, path >> 32)

``step`` is the step index of the algorithm (or the epoch index for the
reshuffling permutations), ``kind`` names what the numbers are for (one of the
``KIND_*`` constants below) and ``block`` numbers consecutive calls within one
(step, kind).  Each call gives four 32-bit words.

Derived streams
---------------
* Uniform double: two words ``(hi, lo)`` give the 52-bit integer
  ``k = hi << 20 | lo >> 12`` and ``u = (k + 1/2) 2**-52``, strictly inside
  (0, 1): every value is exact in float64 (with 53 bits, ``k + 1/2`` would
  round to 2**53 at the top and give u = 1).
* Standard normals: block ``b`` gives two uniforms ``u1 = unit(w0, w1)``,
  ``u2 = unit(w2, w3)`` and, by Box-Muller, normals ``2b`` and ``2b+1``:
  ``sqrt(-2 log u1) cos(2 pi u2)`` and ``sqrt(-2 log u1) sin(2 pi u2)``.
  The logarithm, cosine and sine are this module's own (:func:`build`'s
  ``log_unit`` and ``cos_sin_2pi``: fdlibm's polynomials after a reduction
  that is exact in u), written in plain arithmetic, so they are the same
  function on every target: NumPy and the CPU give bit-identical normals on
  any platform, whatever its libm, and the CPU's loops over them vectorise
  (a call to libm does not).  Error below 1.5 ulp for the cosine and sine of
  2 pi u (u exact) and 1 ulp for the logarithm.  The CPU splits u into
  exponent and mantissa by a bit cast where NumPy and the GPU scale by powers
  of two: the same numbers, some 3x faster in its vectorised loops.
* Bounded integers in [0, n): Lemire's multiply-shift with rejection (no modulo
  bias).  Draws take the words of (step, kind) in order, word ``4b + i`` being
  word ``i`` of block ``b``; a rejected word is skipped.

The functions are written once, in :func:`build`, as plain scalar code with no
branches except in the cursor that skips rejected words.  ``build`` compiles
them with the decorator it is given: the identity (NumPy arrays work
element-wise, which is how the NumPy reference backend uses them),
``numba.njit``, or ``numba.cuda.jit(device=True)``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

__all__ = [
    "KIND_BATCH1",
    "KIND_BATCH2",
    "KIND_NOISE",
    "KIND_EPOCH1",
    "KIND_EPOCH2",
    "build",
    "np_rng",
    "philox4x32",
    "words",
    "normals",
    "uniforms",
    "bounded_ints",
]

# What a (step, kind) stream is used for.  Two batch kinds because SVAG draws
# two independent batches per step (eq. 5); two epoch kinds for the same reason
# under random reshuffling.
KIND_BATCH1 = 1
KIND_BATCH2 = 2
KIND_NOISE = 3
KIND_EPOCH1 = 4
KIND_EPOCH2 = 5

_MASK32 = np.uint64(0xFFFFFFFF)
_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_S32 = np.uint64(32)
_S24 = np.uint64(24)
_S20 = np.uint64(20)
_S12 = np.uint64(12)
_TWO32 = np.uint64(1 << 32)
_TWO_M52 = 2.0**-52
_TWO_PI = 2.0 * math.pi

# fdlibm (FreeBSD msun) k_sin.c and k_cos.c: sin and cos on [-pi/4, pi/4]
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
# fdlibm e_log.c: log(1 + f) = 2s + s R(s^2), s = f / (2 + f), on [sqrt(1/2), sqrt(2)) - 1
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT_HALF = 0.70710678118654752440
_MANTISSA = np.int64((1 << 52) - 1)
_ONE_BITS = np.int64(1023 << 52)  # the bits of 1.0
_TWO52_BITS = np.int64(1075 << 52)  # the bits of 2**52


def build(jit, xp, bits=None):
    """Compile the generator's scalar functions with decorator ``jit``.

    Parameters
    ----------
    jit : callable
        ``lambda f: f`` for NumPy, ``numba.njit`` for the CPU,
        ``numba.cuda.jit(device=True)`` for the GPU.
    xp : module
        Supplies ``sqrt`` and ``floor``: ``numpy`` for arrays, ``math`` for
        compiled scalar code.
    bits : tuple of two functions, optional
        ``(f64_bits, bits_f64)``, the bit casts between float64 and int64
        (``kernels.fast.simd`` on the CPU): ``log_unit`` then splits u into
        exponent and mantissa from its bits, with the same result as the
        portable form (which takes None: NumPy and the GPU).

    Returns
    -------
    types.SimpleNamespace
        ``philox``, ``block``, ``unit``, ``log_unit``, ``cos_sin_2pi``,
        ``box_muller``, ``lemire`` (element-wise), ``lemire_scalar``,
        ``normal_pair``, ``fill_normals`` (compiled targets), ``next_normal``,
        ``draw_bounded``.
    """
    sqrt, floor = xp.sqrt, xp.floor

    @jit
    def mulhilo(m, a):
        p = m * a
        return p >> _S32, p & _MASK32

    @jit
    def philox(c0, c1, c2, c3, k0, k1):
        # Ten rounds of the Philox S-P network; words are held in uint64 and
        # masked to 32 bits so the same code is exact in NumPy and in Numba.
        for _ in range(10):
            hi0, lo0 = mulhilo(_M0, c0)
            hi1, lo1 = mulhilo(_M1, c2)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
        return c0, c1, c2, c3

    @jit
    def block(seed, path, step, kind, blk):
        """Four words of block ``blk`` of stream (seed, path, step, kind)."""
        # Cast here so callers may pass plain integers: in Numba, mixing signed
        # and unsigned integers promotes to float64.
        seed = np.uint64(seed)
        path = np.uint64(path)
        step = np.uint64(step)
        kind = np.uint64(kind)
        blk = np.uint64(blk)
        return philox(
            step & _MASK32,
            ((kind << _S24) | blk) & _MASK32,
            path & _MASK32,
            path >> _S32,
            seed & _MASK32,
            seed >> _S32,
        )

    @jit
    def log_reduced(m, e):
        """log(2**e m) for m in [sqrt(1/2), sqrt(2)) (fdlibm's e_log.c)."""
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        return e * _LN2_HI - ((hfsq - (s * (hfsq + r) + e * _LN2_LO)) - f)

    if bits is None:

        @jit
        def unit(hi, lo):
            """Uniform double strictly inside (0, 1) from two 32-bit words."""
            k = (hi << _S20) | (lo >> _S12)
            return (k + 0.5) * _TWO_M52

        @jit
        def log_unit(u):
            """log u for 0 < u < 1 (fdlibm's e_log.c; error below 1 ulp).

            u = 2**e m with m in [sqrt(1/2), sqrt(2)), found by scaling with
            exact powers of two (comparisons, not bit casts: the same code
            runs on NumPy arrays and compiles for both targets); u >= 2**-53
            here.
            """
            e = 0.0
            t = u < 2.0**-32
            u = u * (1.0 + t * (2.0**32 - 1.0))
            e = e - 32.0 * t
            t = u < 2.0**-16
            u = u * (1.0 + t * (2.0**16 - 1.0))
            e = e - 16.0 * t
            t = u < 2.0**-8
            u = u * (1.0 + t * (2.0**8 - 1.0))
            e = e - 8.0 * t
            t = u < 2.0**-4
            u = u * (1.0 + t * (2.0**4 - 1.0))
            e = e - 4.0 * t
            t = u < 2.0**-2
            u = u * (1.0 + t * 3.0)
            e = e - 2.0 * t
            t = u < 0.5
            u = u * (1.0 + t)
            e = e - t
            t = u < _SQRT_HALF
            u = u * (1.0 + t)
            e = e - t
            return log_reduced(u, e)

    else:
        f64_bits, bits_f64 = bits

        @jit
        def unit(hi, lo):
            """Uniform double strictly inside (0, 1) from two 32-bit words.

            k + 0.5 from the bits of 2**52 + k (k < 2**52), both steps exact:
            the same number as the portable form, without a conversion from
            a 64-bit integer, which the CPU's vectors lack (AVX2) and would
            make one lane at a time."""
            k = (hi << _S20) | (lo >> _S12)
            return (bits_f64(np.int64(k) | _TWO52_BITS) - (2.0**52 - 0.5)) * _TWO_M52

        @jit
        def log_unit(u):
            """log u for 0 < u < 1: the same m and e as the portable form, read
            from the bits of u (u = 2**E M, M in [1, 2), is a normal double
            here).  Where M >= sqrt(2), m = M/2 and e = E + 1, both exact, so
            the two forms give the same bits; this one is some 3x faster in
            the CPU's vectorised loops (tests/test_rng.py holds them equal)."""
            ub = f64_bits(u)
            big = bits_f64((ub & _MANTISSA) | _ONE_BITS)
            t = big >= 2.0 * _SQRT_HALF
            # the biased exponent (below 2**11) as a double through the bits of
            # 2**52 + E, like unit's k: exact, and no integer conversion
            biased = bits_f64((ub >> 52) | _TWO52_BITS) - (2.0**52 + 1023.0)
            return log_reduced(big * (1.0 - 0.5 * t), biased + t)

    @jit
    def cos_sin_2pi(u):
        """(cos 2 pi u, sin 2 pi u) for 0 < u < 1 (error below 1.5 ulp).

        The reduction is exact in u: u = q/4 + f with q = round(4u) and
        |f| <= 1/8, so 2 pi f lies in [-pi/4, pi/4], where fdlibm's k_cos.c
        and k_sin.c polynomials hold; the quarter turns q are a rotation by
        exact multiplications with 0 and +-1.
        """
        q = floor(4.0 * u + 0.5)
        x = _TWO_PI * (u - 0.25 * q)
        z = x * x
        s = x + (z * x) * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
        hz = 0.5 * z
        w = 1.0 - hz
        c = w + (((1.0 - w) - hz) + z * (z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))))
        quarter = q - 4.0 * floor(0.25 * q)  # q mod 4
        half = floor(0.5 * quarter)
        odd = quarter - 2.0 * half
        even = 1.0 - odd
        sign = 1.0 - 2.0 * half
        return sign * (even * c - odd * s), sign * (even * s + odd * c)

    @jit
    def box_muller(w0, w1, w2, w3):
        r = sqrt(-2.0 * log_unit(unit(w0, w1)))
        c, s = cos_sin_2pi(unit(w2, w3))
        return r * c, r * s

    @jit
    def lemire(word, n):
        """Candidate index in [0, n) from one word, and whether to accept it.

        Lemire (2019): with m = word * n, index = m >> 32 is unbiased when
        words whose low half falls below (2**32 - n) mod n are rejected.
        """
        m = word * n
        threshold = (_TWO32 - n) % n
        return m >> _S32, (m & _MASK32) >= threshold

    @jit
    def lemire_scalar(word, n):
        """:func:`lemire` for one word, dividing only when it must.

        The threshold (2**32 - n) mod n is below n, so a low half >= n is
        accepted without it; the division is left for the rare low half < n.
        """
        m = word * n
        low = m & _MASK32
        if low < n:
            if low < (_TWO32 - n) % n:
                return m >> _S32, False
        return m >> _S32, True

    @jit
    def normal_pair(seed, path, step, kind, blk):
        """Normals 2*blk and 2*blk + 1 of stream (seed, path, step, kind)."""
        w0, w1, w2, w3 = block(seed, path, step, kind, blk)
        return box_muller(w0, w1, w2, w3)

    @jit
    def fill_normals(seed, path, step, kind, first_pair, n_pairs, out):
        """Normals 2 first_pair .. 2 (first_pair + n_pairs) - 1 of the stream
        into out[0 : 2 n_pairs]: a loop of Box-Muller pairs that vectorises on
        the CPU (no libm call in it)."""
        for b in range(n_pairs):
            z0, z1 = normal_pair(seed, path, step, kind, first_pair + b)
            out[2 * b] = z0
            out[2 * b + 1] = z1

    @jit
    def next_normal(seed, path, step, kind, t, carry):
        """Normal ``t`` of the stream, for t = 0, 1, 2, ... in order.

        Returns ``(z, carry)``: pass ``carry`` back in with t + 1, which reuses
        the second normal of each Box-Muller pair.
        """
        if t % 2 == 0:
            return normal_pair(seed, path, step, kind, t // 2)
        return carry, carry

    @jit
    def draw_bounded(buf, cur, seed, path, step, kind, n):
        """The next index in [0, n) of stream (seed, path, step, kind).

        ``cur[0]`` is the position of the next word in the stream and ``buf``
        holds the block it lies in; rejected words are skipped.  Set
        ``cur[0] = 0`` to start a stream.  (Compiled targets only.)
        """
        while True:
            pos = cur[0]
            q = pos % 4
            if q == 0:
                w0, w1, w2, w3 = block(seed, path, step, kind, pos // 4)
                buf[0] = w0
                buf[1] = w1
                buf[2] = w2
                buf[3] = w3
            cur[0] = pos + 1
            val, ok = lemire_scalar(buf[q], n)
            if ok:
                return val

    return SimpleNamespace(
        mulhilo=mulhilo,
        philox=philox,
        block=block,
        unit=unit,
        log_unit=log_unit,
        cos_sin_2pi=cos_sin_2pi,
        box_muller=box_muller,
        lemire=lemire,
        lemire_scalar=lemire_scalar,
        normal_pair=normal_pair,
        fill_normals=fill_normals,
        next_normal=next_normal,
        draw_bounded=draw_bounded,
    )


# The NumPy build: every function works element-wise on uint64 arrays.
np_rng = build(lambda f: f, np)


def _u64(v):
    return np.asarray(v, dtype=np.uint64)


def philox4x32(counter, key):
    """Philox4x32-10 of one counter (4 words) and key (2 words), as 4 ints."""
    c = [_u64(w) for w in counter]
    k = [_u64(w) for w in key]
    return tuple(int(w) for w in np_rng.philox(*c, *k))


def words(seed, paths, step, kind, nwords):
    """Words ``0 .. nwords-1`` of stream (seed, p, step, kind) for each p.

    Returns a uint64 array of shape (len(paths), nwords).
    """
    paths = _u64(paths)[:, None]
    nblocks = -(-nwords // 4)
    blk = np.arange(nblocks, dtype=np.uint64)[None, :]
    w = np_rng.block(_u64(seed), paths, _u64(step), _u64(kind), blk)
    return np.stack(w, axis=-1).reshape(len(paths), 4 * nblocks)[:, :nwords]


def uniforms(seed, paths, step, kind, count):
    """Uniform doubles in (0, 1): uniform j uses words 2j and 2j+1."""
    w = words(seed, paths, step, kind, 2 * count)
    return np_rng.unit(w[:, 0::2], w[:, 1::2])


def normals(seed, paths, step, kind, count):
    """Standard normals, shape (len(paths), count), by Box-Muller per block."""
    nblocks = -(-count // 2)
    w = words(seed, paths, step, kind, 4 * nblocks)
    z0, z1 = np_rng.box_muller(w[:, 0::4], w[:, 1::4], w[:, 2::4], w[:, 3::4])
    z = np.empty((len(w), 2 * nblocks))
    z[:, 0::2] = z0
    z[:, 1::2] = z1
    return z[:, :count]


def bounded_ints(seed, paths, step, kind, bounds):
    """Draw ``j`` uniform in [0, bounds[j]) for each path, without modulo bias.

    Vectorised over paths on the assumption that no word is rejected; the rare
    path with a rejection (probability below ``max(bounds) / 2**32`` per draw)
    is redone word by word, so the result is exactly the stream's definition.
    """
    paths = np.asarray(paths, dtype=np.uint64)
    bounds = np.asarray(bounds, dtype=np.uint64)
    k = len(bounds)
    w = words(seed, paths, step, kind, k)
    vals, ok = np_rng.lemire(w, bounds[None, :])
    vals = vals.astype(np.int64)
    for row in np.flatnonzero(~ok.all(axis=1)):
        vals[row] = _bounded_ints_one(seed, int(paths[row]), step, kind, bounds)
    return vals


def _bounded_ints_one(seed, path, step, kind, bounds):
    out = np.empty(len(bounds), dtype=np.int64)
    pos = 0
    buf = ()
    for j, n in enumerate(bounds):
        while True:
            if pos % 4 == 0:
                buf = np_rng.block(_u64(seed), _u64(path), _u64(step), _u64(kind), _u64(pos // 4))
            word = buf[pos % 4]
            pos += 1
            val, ok = np_rng.lemire(word, n)
            if ok:
                out[j] = int(val)
                break
    return out
