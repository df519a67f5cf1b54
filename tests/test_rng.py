"""The counter-based generator: known answers, stream independence, distributions."""

import math

import numba
import numpy as np
import pytest
from scipy import stats

from toylab._kernels import rng as R

# Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers_numpy(counter, key, expected):
    assert R.philox4x32(counter, key) == expected


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers_njit(counter, key, expected):
    jitted = R.build(numba.njit, math)
    out = jitted.philox(*[np.uint64(w) for w in counter], *[np.uint64(w) for w in key])
    assert tuple(int(w) for w in out) == expected


def test_stream_depends_only_on_seed_and_path():
    paths = np.arange(100, 164)
    full = R.normals(7, paths, 3, R.KIND_NOISE, 9)
    # the same paths computed one at a time, in reverse, inside other ranges
    for i, p in enumerate(paths[::-1]):
        alone = R.normals(7, [p], 3, R.KIND_NOISE, 9)
        np.testing.assert_array_equal(alone[0], full[len(paths) - 1 - i])
    np.testing.assert_array_equal(R.normals(7, np.arange(90, 200), 3, R.KIND_NOISE, 9)[10:74], full)
    # a prefix of a longer draw is the shorter draw
    np.testing.assert_array_equal(R.normals(7, paths, 3, R.KIND_NOISE, 20)[:, :9], full)


def test_streams_differ_by_seed_step_kind_and_path():
    base = R.words(1, [5], 2, R.KIND_BATCH1, 8)
    for other in (
        R.words(2, [5], 2, R.KIND_BATCH1, 8),
        R.words(1, [6], 2, R.KIND_BATCH1, 8),
        R.words(1, [5], 3, R.KIND_BATCH1, 8),
        R.words(1, [5], 2, R.KIND_BATCH2, 8),
        R.words(1, [5 + 2**32], 2, R.KIND_BATCH1, 8),
    ):
        assert not np.array_equal(base, other)


def test_uniforms_strictly_inside_unit_interval():
    extremes = R.np_rng.unit(np.array([0, 0xFFFFFFFF], dtype=np.uint64), np.array([0, 0xFFFFFFFF], dtype=np.uint64))
    assert extremes[0] == 2.0**-53
    assert extremes[1] == 1.0 - 2.0**-53
    u = R.uniforms(3, np.arange(1000), 0, R.KIND_NOISE, 100).ravel()
    assert u.min() > 0 and u.max() < 1
    n = u.size
    # mean 1/2, variance 1/12: within 4 standard errors
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_normal_moments_and_independence_across_streams():
    z = R.normals(11, np.arange(4000), 5, R.KIND_NOISE, 50)
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    # Var of the sample variance of normals is 2/n
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    # Excess kurtosis: E z^4 = 3, Var z^4 = 96
    assert abs(np.mean(z**4) - 3) < 4 * math.sqrt(96 / n)
    # correlation between neighbouring paths, between steps, and between the
    # two normals of one Box-Muller pair: each ~ N(0, 1/m)
    a = z[:-1, 0]
    b = z[1:, 0]
    m = len(a)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(m)
    other_step = R.normals(11, np.arange(4000), 6, R.KIND_NOISE, 1)[:, 0]
    assert abs(np.corrcoef(z[:, 0], other_step)[0, 1]) < 4 / math.sqrt(4000)
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 4 / math.sqrt(4000)
    assert stats.kstest(z[:, :10].ravel(), "norm").pvalue > 1e-4


@pytest.mark.parametrize("n", [1, 3, 10, 1000, 2**31 + 11])
def test_bounded_ints_in_range_and_uniform(n):
    k = 20000
    v = R.bounded_ints(4, np.arange(k), 0, R.KIND_BATCH1, [n])[:, 0]
    assert v.min() >= 0 and v.max() < n
    if 2 <= n <= 10:
        counts = np.bincount(v, minlength=n)
        assert stats.chisquare(counts).pvalue > 1e-4


def test_bounded_ints_rejection_is_exact():
    """With n = 2**31 + 1 about half the words are rejected: the vectorised
    path's fallback must reproduce the word-by-word definition."""
    n = 2**31 + 1
    bounds = [n, n, n]
    vals = R.bounded_ints(9, np.arange(50), 1, R.KIND_BATCH1, bounds)
    for p in range(50):
        np.testing.assert_array_equal(vals[p], R._bounded_ints_one(9, p, 1, R.KIND_BATCH1, np.array(bounds, np.uint64)))
    # and no modulo bias: the top half of [0, n) is as likely as the bottom half
    v = R.bounded_ints(9, np.arange(20000), 1, R.KIND_BATCH1, bounds).ravel()
    frac = np.mean(v >= n // 2)
    assert abs(frac - 0.5) < 4 * math.sqrt(0.25 / v.size)


def _ulp_error(got, ref, floor=0.0):
    """|got - ref| in ulps of the double nearest ref (at least ``floor``)."""
    ref64 = ref.astype(np.float64)
    return np.abs((got - ref).astype(np.float64)) / np.maximum(np.spacing(np.abs(ref64)), floor)


def test_logarithm_cosine_and_sine_of_the_generator_are_accurate():
    """Box-Muller's log u, cos 2 pi u and sin 2 pi u are the generator's own
    polynomials, accurate to 1.5 ulp (the test allows 2) over the whole range
    of uniforms, down to 2**-53, and exact at the quarter points, where the
    reduction changes quadrant.

    The reference is long double (x86-64: 64-bit significand); near a zero of
    cos or sin the error is measured in ulps of 2**-53, the rounding of the
    uniform itself, below which no double result can be judged."""
    ld = np.longdouble
    assert np.finfo(ld).eps < 1e-18, "this test needs an extended long double for its reference"
    rng = np.random.default_rng(5)
    k = rng.integers(0, 2**52, size=200_000, dtype=np.uint64)
    k[:53] = 2 ** np.arange(53, dtype=np.uint64) - 1  # every binade of small u
    k[53:56] = [0, 2**52 - 1, 2**51]
    u = R.np_rng.unit(k >> np.uint64(20), (k & np.uint64(0xFFFFF)) << np.uint64(12))
    np.testing.assert_array_equal(u, (k.astype(np.float64) + 0.5) * 2.0**-52)
    near = (np.arange(-2000, 2000) + 0.5) * 2.0**-52
    u = np.concatenate([u, *(q / 4 + near for q in (1, 2, 3))])
    c, s = R.np_rng.cos_sin_2pi(u)
    angle = 8 * np.arctan(ld(1)) * u.astype(ld)
    assert _ulp_error(R.np_rng.log_unit(u), np.log(u.astype(ld))).max() < 2
    assert _ulp_error(c, np.cos(angle), floor=2.0**-53).max() < 2
    assert _ulp_error(s, np.sin(angle), floor=2.0**-53).max() < 2
    c, s = R.np_rng.cos_sin_2pi(np.array([0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(np.abs(c), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(np.abs(s), [1.0, 0.0, 1.0])
    assert c[1] == -1.0 and s[0] == 1.0 and s[2] == -1.0
    assert R.np_rng.log_unit(np.array([0.5]))[0] == math.log(0.5)


_NJIT_RNG = R.build(numba.njit, math)
_normal_pair = _NJIT_RNG.normal_pair


@numba.njit
def _njit_logs(log_unit, u, out):
    for i in range(u.shape[0]):
        out[i] = log_unit(u[i])


def test_log_from_bits_is_the_portable_log():
    """The CPU's log_unit splits u into 2**e m from its bits
    (kernels.fast.simd.f64_bits); the portable form, which NumPy and the GPU run,
    finds the same e and m by scaling.  They are one function bit for bit:
    over every binade of the uniforms, the mantissas on either side of
    sqrt(2) (where m is halved) and a spread of random words."""
    from toylab._kernels.fast import simd

    bits_rng = R.build(numba.njit(error_model="numpy"), math, (simd.f64_bits, simd.bits_f64))
    rng = np.random.default_rng(11)
    k = rng.integers(0, 2**52, size=100_000, dtype=np.uint64)
    k[:53] = 2 ** np.arange(53, dtype=np.uint64) - 1
    k[53:56] = [0, 2**52 - 1, 2**51]
    u = (k.astype(np.float64) + 0.5) * 2.0**-52
    sqrt2 = 2.0 * R._SQRT_HALF
    edge = np.concatenate([np.nextafter(sqrt2, 0.0) - np.arange(4) * 2.0**-52, sqrt2 + np.arange(4) * 2.0**-52])
    u = np.concatenate([u, *(edge * 2.0**-p for p in range(1, 53))])
    u = u[(u > 0) & (u < 1)]
    got = np.empty_like(u)
    _njit_logs(bits_rng.log_unit, u, got)
    np.testing.assert_array_equal(got, R.np_rng.log_unit(u))
    np.testing.assert_array_equal(got[u == 0.5], math.log(0.5))


@numba.njit
def _njit_normals(seed, paths, step, kind, out):
    for i in range(paths.shape[0]):
        for b in range(out.shape[1] // 2):
            z0, z1 = _normal_pair(seed, paths[i], step, kind, b)
            out[i, 2 * b] = z0
            out[i, 2 * b + 1] = z1


def test_numpy_and_compiled_normals_are_bit_identical():
    """The stream is one function on every target: the NumPy build and the
    njit build give the same normals bit for bit (Box-Muller calls no libm),
    so the numpy and cpu backends share their noise exactly."""
    paths = np.arange(3000, dtype=np.int64)
    out = np.empty((len(paths), 40))
    _njit_normals(21, paths, 4, R.KIND_NOISE, out)
    np.testing.assert_array_equal(out, R.normals(21, paths, 4, R.KIND_NOISE, 40))



@numba.njit(error_model="numpy")
def _njit_units_and_turns(unit, cos_sin_2pi, k, out):
    # unit from its two words, then cos and sin of 2 pi u, for each k < 2**52
    for i in range(k.shape[0]):
        u = unit(k[i] >> np.uint64(20), (k[i] & np.uint64(0xFFFFF)) << np.uint64(12))
        out[0, i] = u
        out[1, i], out[2, i] = cos_sin_2pi(u)


@numba.njit(error_model="numpy")
def _njit_fill(fill_normals, seed, paths, step, kind, out):
    for i in range(paths.shape[0]):
        fill_normals(seed, paths[i], step, kind, 0, out.shape[1] // 2, out[i])


def test_cpu_generator_is_the_portable_one():
    """The CPU's build of the generator (kernels.fast.cpu: unit's k + 0.5 and the
    logarithm's exponent read from the bits of 2**52 + k, floor returning a
    double) gives the portable numbers bit for bit: the uniforms at the ends
    of their range and in every binade, cos and sin about the quarter turns,
    and the normals of the NumPy build, drawn as the CPU's kernels draw them
    (fill_normals, a loop that vectorises)."""
    from toylab._kernels.fast import cpu

    rng = np.random.default_rng(12)
    k = rng.integers(0, 2**52, size=20_000, dtype=np.uint64)
    k[:53] = 2 ** np.arange(53, dtype=np.uint64) - 1
    k[53:56] = [0, 2**52 - 1, 2**51]
    quarters = np.array([2**50 * q + j for q in (1, 2, 3) for j in (-2, -1, 0, 1)], dtype=np.uint64)
    k = np.concatenate([k, quarters])
    got = np.empty((3, k.size))
    _njit_units_and_turns(cpu.RNG.unit, cpu.RNG.cos_sin_2pi, k, got)
    u = R.np_rng.unit(k >> np.uint64(20), (k & np.uint64(0xFFFFF)) << np.uint64(12))
    np.testing.assert_array_equal(got[0], u)
    c, s = R.np_rng.cos_sin_2pi(u)
    np.testing.assert_array_equal(got[1], c)
    np.testing.assert_array_equal(got[2], s)
    paths = np.arange(500, dtype=np.int64)
    out = np.empty((len(paths), 64))
    _njit_fill(cpu.RNG.fill_normals, 21, paths, 4, R.KIND_NOISE, out)
    np.testing.assert_array_equal(out, R.normals(21, paths, 4, R.KIND_NOISE, 64))
