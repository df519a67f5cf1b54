"""The counter-based generator: known answers, stream independence, distributions."""

import math

import numba
import numpy as np
import pytest
from scipy import stats

from kernels import rng as R

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
