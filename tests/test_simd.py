"""The CPU's vectors of 8 and 4 lanes (kernels.fast.simd), each against its scalar definition:
Philox on eight counters, the batch indices of eight steps, and the batch
gradients summed in vectors."""

import functools
from fractions import Fraction

import numba
import numpy as np
import pytest

from toylab._kernels import rng as R
from toylab._kernels.fast import simd
from toylab._kernels.fast.cpu import MODELS as CPU_MODELS
from toylab._kernels.fast.cpu import perm_length
from toylab import SGD, SVAG, LinearRegression, SphereRegression, simulate
from toylab._fast import model_data

from .test_rng import KAT

MASK32 = 0xFFFFFFFF


@numba.njit
def philox_lanes(c, k0, k1, out):
    w = simd.philox_lanes(simd.uload(c, 0), simd.uload(c, 8), simd.uload(c, 16), simd.uload(c, 24), k0, k1)
    for j in range(4):
        for lane in range(8):
            out[j, lane] = simd.ulane(w[j], lane)


@numba.njit
def bounded_lanes(seed, path, step0, kind, n, B, out):
    return simd.bounded_lanes(seed, path, step0, kind, n, B, out)


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_lanes_known_answers(counter, key, expected):
    """Random123's known answers in every lane, beside other counters."""
    rng = np.random.default_rng(1)
    c = rng.integers(0, 2**32, size=(4, 8), dtype=np.uint64)
    lane = 5
    c[:, lane] = counter
    out = np.empty((4, 8), np.uint64)
    philox_lanes(c.ravel().copy(), np.uint64(key[0]), np.uint64(key[1]), out)
    assert tuple(int(w) for w in out[:, lane]) == expected
    for other in range(8):
        ref = R.philox4x32(tuple(int(w) for w in c[:, other]), key)
        assert tuple(int(w) for w in out[:, other]) == ref


@numba.njit
def windows(a, start, lo, hi, out):
    simd.vstore(out, 0, 8, simd.vload_window(a, start, lo, hi))


@numba.njit
def lanes_from(a, lo, out8, out4):
    simd.vstore(out8, 0, 8, simd.vfrom(simd.vload(a, 0, 8), lo))
    simd.vstore(out4, 0, 4, simd.vfrom(simd.vload4(a, 0, 4), lo))


def test_lanes_from_keep_the_upper_lanes_only():
    """vfrom(v, lo) keeps lane j of v where j >= lo and is zero below, at
    either width: all of v for lo <= 0, none of it for lo >= the width, and
    a NaN or an infinity below lo is dropped too."""
    a = np.array([np.nan, -np.inf, 3.0, -4.0, 5.0, 6.5, -7.0, 8.0])
    out8, out4 = np.empty(8), np.empty(4)
    for lo in (-9, -1, 0, 1, 2, 3, 4, 5, 7, 8, 12):
        lanes_from(a, lo, out8, out4)
        ref = np.where(np.arange(8) >= lo, a, 0.0)
        np.testing.assert_array_equal(out8, ref)
        np.testing.assert_array_equal(out4, ref[:4])


@numba.njit
def sums_of_eight(a, out):
    s = simd.hsum8(
        simd.vload(a, 0, 8), simd.vload(a, 8, 8), simd.vload(a, 16, 8), simd.vload(a, 24, 8),
        simd.vload(a, 32, 8), simd.vload(a, 40, 8), simd.vload(a, 48, 8), simd.vload(a, 56, 8),
    )
    simd.vstore(out, 0, 8, s)
    for c in range(8):
        out[8 + c] = simd.hsum(simd.vload(a, 8 * c, 8))


def test_window_loads_and_eight_horizontal_sums():
    """vload_window(a, start, lo, hi) holds a[start + j] in lanes lo <= j < hi
    and zeros elsewhere (a window at the array's end reads nothing past it);
    hsum8's lane c is hsum of vector c, bit for bit."""
    a = np.arange(1.0, 21.0)
    out = np.empty(8)
    for start, lo, hi in [(0, 0, 8), (4, 2, 5), (15, 0, 5), (12, 3, 8), (3, 6, 6), (0, 5, 2), (14, -3, 4)]:
        windows(a, start, lo, hi, out)
        ref = np.zeros(8)
        for j in range(max(lo, 0), min(hi, 8)):
            ref[j] = a[start + j]
        np.testing.assert_array_equal(out, ref)
    rng = np.random.default_rng(4)
    x = rng.normal(size=64) * 10.0 ** rng.integers(-12, 12, size=64)
    out = np.empty(16)
    sums_of_eight(x, out)
    np.testing.assert_array_equal(out[:8], out[8:])


@numba.njit
def bit_casts(x, out):
    for i in range(x.shape[0]):
        out[i] = simd.f64_bits(x[i])
        x[i] = simd.bits_f64(out[i])


def test_bit_casts_are_numpy_views():
    x = np.array([0.0, -0.0, 1.0, 2.0**-53, 0.7071067811865476, -3.5e300, np.inf])
    out = np.empty(len(x), np.int64)
    y = x.copy()
    bit_casts(y, out)
    np.testing.assert_array_equal(out, x.view(np.int64))
    np.testing.assert_array_equal(y.view(np.int64), x.view(np.int64))


CHUNK_CASES = [
    # (seed, path, first step, kind, n, B): the step word wrapping past 2**32,
    # paths and seeds above 2**32, B not a multiple of 4, n = 1, and
    # n = 2**31 + 11 (about half the words rejected)
    (7, 3, 0, R.KIND_BATCH1, 1000, 8),
    (2**40 + 9, 2**33 + 5, 2**32 - 3, R.KIND_BATCH2, 641, 13),
    (0, 0, 16, R.KIND_EPOCH1, 1, 3),
    (5, 11, 8, R.KIND_BATCH1, 2**31 + 11, 5),
    (31, 15, 0, R.KIND_BATCH1, 641, 8),
]


@pytest.mark.parametrize("seed,path,step0,kind,n,B", CHUNK_CASES)
def test_indices_of_eight_steps_are_the_streams(seed, path, step0, kind, n, B):
    """Index b of step step0 + l is the high half of word b times n; step l is
    flagged exactly when one of its words could be rejected (low half below n),
    and where none is, the indices are those of the stream."""
    words_per_step = 4 * ((B + 3) // 4)
    out = np.full(simd.index_lanes_length(B), -1, np.int64)
    flagged = bounded_lanes(np.uint64(seed), path, step0, kind, n, B, out)
    for lane in range(8):
        w = R.words(seed, [path], step0 + lane, kind, words_per_step)[0]
        m = w * np.uint64(n)
        np.testing.assert_array_equal(out[lane : 8 * words_per_step : 8], (m >> np.uint64(32)).astype(np.int64))
        assert bool((flagged >> lane) & 1) == bool(np.any((m & np.uint64(MASK32)) < n))
        if not (flagged >> lane) & 1:
            ref = R.bounded_ints(seed, [path], step0 + lane, kind, [n] * B)[0]
            np.testing.assert_array_equal(out[lane : 8 * B : 8], ref)
    if n == 1:
        assert not out[: 8 * words_per_step].any()


def data(cls, n, d, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    if cls is SphereRegression:
        return cls(A, np.tanh(A @ rng.normal(size=d)))
    return cls(A, A @ rng.normal(size=d) + 0.3 * rng.normal(size=n))


@pytest.mark.parametrize("cls", [LinearRegression, SphereRegression])
@pytest.mark.parametrize("d", [3, 8, 10, 16, 21])
def test_batch_gradient_in_vectors_matches_numpy(cls, d):
    """The compiled batch gradient with replacement, called for steps in any
    order, paths and kinds interleaved: the model's batch gradient of the
    stream's indices, to rounding.  Seed 31, path 15, step 3 has a word
    rejected at n = 641 (found by a search over seeds): the word-by-word draw."""
    n = 641
    model = data(cls, n, d)
    kdata = model_data(model)
    ns = CPU_MODELS[cls.__name__]
    rng = np.random.default_rng(d)
    x = rng.normal(size=d)
    seed = 31
    assert np.any((R.words(seed, [15], 3, R.KIND_BATCH1, 8) * np.uint64(n)) & np.uint64(MASK32) < 2**32 % n)
    for B in (1, 5, 8):
        perm = np.zeros(perm_length(1, B), np.int64)
        buf = np.zeros(4, np.uint64)
        cur = np.zeros(1, np.int64)
        aux = np.zeros(2)
        t1 = np.zeros(d)
        out = np.zeros(d)
        calls = [(15, 3, R.KIND_BATCH1), (15, 4, R.KIND_BATCH1), (2, 3, R.KIND_BATCH1), (15, 11, R.KIND_BATCH2)]
        calls += [(int(q), int(k), R.KIND_BATCH1) for q, k in zip(rng.integers(0, 40, 12), rng.integers(0, 30, 12))]
        for path, step, kind in calls:
            ns["batch_grad"](x, kdata, B, 0, perm, buf, cur, np.uint64(seed), path, step, kind, 0, aux, t1, out)
            idx = R.bounded_ints(seed, [path], step, kind, [n] * B)[0]
            np.testing.assert_allclose(out, model.batch_grad(x, idx), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [LinearRegression, SphereRegression])
@pytest.mark.parametrize("d", [8, 10, 21])
@pytest.mark.parametrize("alg", [SGD(0.05, 5, weight_decay=0.1), SVAG(0.05, 8, 4)], ids=["SGD", "SVAG"])
def test_cpu_matches_numpy_in_vectors(cls, d, alg):
    """Whole runs, 13 steps (a partial group of 8), against the NumPy backend;
    with seed 31 on n = 641, path 15 meets a rejected word at step 3."""
    model = data(cls, 641, d, seed=d)
    x0 = np.linspace(-1.0, 1.0, d) + 0.5
    times = [0.0, 3 * alg.step_time, 4 * alg.step_time, 13 * alg.step_time]
    kw = dict(paths=40, seed=31, progress=False)
    cpu = simulate(model, alg, x0, times, backend="cpu", **kw)
    ref = simulate(model, alg, x0, times, backend="numpy", **kw)
    np.testing.assert_array_equal(cpu.count, ref.count)
    for name in ref.observables:
        np.testing.assert_allclose(cpu.mean(name), ref.mean(name), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("cls", [LinearRegression, SphereRegression])
@pytest.mark.parametrize("d", [3, 8, 10, 16, 21])
def test_full_gradient_matches_numpy(cls, d):
    """The compiled full gradient against the model's, to rounding: H x - b,
    and on SphereRegression P_u (H u - b) / |x| from the H and b stored after
    the data (the model's grad is held to the mean of its per-sample gradients
    in tests/test_models.py)."""
    model = data(cls, 641, d, seed=d)
    kdata = model_data(model)
    grad = CPU_MODELS[cls.__name__]["grad"]
    rng = np.random.default_rng(d + 1)
    for x in rng.normal(size=(4, d)):
        out = np.zeros(d)
        grad(x, kdata, np.zeros(2), out)
        ref = model.grad(x)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())


@numba.njit
def lanes_beyond_and_quotient(a, count, bound, b, out):
    out[:8] = 0.0
    simd.vstore(out, 0, 8, simd.vdiv(simd.vload(a, 0, 8), simd.vload(b, 0, 8)))
    return simd.beyond(simd.vload(a, 0, 8), count, bound)


def test_beyond_is_the_divergence_test_of_the_lanes_counted():
    """beyond(v, count, bound) is 1 exactly when a lane below count fails
    |v_j| <= bound (above the bound, infinite or NaN), as the scalar test
    kernels.engine.build_path's finite fails; the lanes at or past count are
    not looked at.  vdiv is the correctly rounded quotient lane by lane."""
    bound = 1e25
    rng = np.random.default_rng(7)
    b = rng.normal(size=8)
    out = np.empty(8)
    for bad in (1e26, -1e26, np.inf, -np.inf, np.nan, np.nextafter(bound, np.inf)):
        for lane in range(8):
            a = rng.normal(size=8)
            a[lane] = bad
            for count in range(9):
                assert lanes_beyond_and_quotient(a, count, bound, b, out) == (1 if lane < count else 0)
            np.testing.assert_array_equal(out, a / b)
    a = np.array([bound, -bound, 0.0, -0.0, 1e-300, 3.0, -7.5, 1e24])
    assert lanes_beyond_and_quotient(a, 8, bound, b, out) == 0
    np.testing.assert_array_equal(out, a / b)


@numba.njit
def narrow_lanes(a, b, c8, count, bound, out):
    # the f64x4 operations, each written out to out[8 k : 8 k + 8]
    out[:] = np.nan
    x = simd.vload4(a, 0, count)
    y = simd.vload4(b, 0, 4)
    simd.vstore(out, 0, 8, x)
    simd.vstore(out, 8, count, simd.vmul(simd.vload4(a, 0, 4), y))
    simd.vstore(out, 16, 4, simd.vadd(x, y))
    simd.vstore(out, 24, 4, simd.vsub(x, y))
    simd.vstore(out, 32, 4, simd.vdiv(x, y))
    simd.vstore(out, 40, 4, simd.vfma(x, y, simd.splat_like(x, 0.25)))
    simd.vstore(out, 48, 8, simd.vfma_low(x, y, simd.vload(c8, 0, 8)))
    simd.vstore(out, 56, 8, simd.vload_like(y, a, 0, count))
    # 8 lanes: count past 4 would read past a
    simd.vstore(out, 64, 8, simd.vload_like(simd.vload(c8, 0, 8), a, 0, min(count, 4)))
    return simd.beyond(simd.vload4(a, 0, 4), count, bound)


def test_narrow_lanes_are_the_first_four_of_eight():
    """The f64x4 (a row's last numbers for d = 9 .. 12) against NumPy: vload4
    fills the lanes below count and zeros the rest; vstore writes count
    lanes of either width and nothing else; the arithmetic is NumPy's, the
    fused multiply-add rounded once; vfma_low is vfma on the first 4 lanes of an f64x8 and leaves the
    others; vload_like loads as wide as its first argument; beyond looks at
    the lanes below count only."""
    rng = np.random.default_rng(11)
    bound = 1e25
    for count in range(-1, 6):
        k = max(0, min(count, 4))
        a = rng.normal(size=max(k, 1))[:k].copy()
        a4 = np.zeros(4)
        a4[:k] = a
        b = rng.normal(size=4)
        c8 = rng.normal(size=8)
        out = np.empty(72)
        # a whole vector is loaded from a too (vmul's operand): where a has
        # fewer than 4 numbers, from a copy with zeros after them
        padded = np.concatenate([a, np.zeros(8)])
        src = a if k == 4 else padded
        assert narrow_lanes(src, b, c8, count, bound, out) == 0
        np.testing.assert_array_equal(out[:4], a4)
        np.testing.assert_array_equal(out[4:8], np.nan)
        np.testing.assert_array_equal(out[8 : 8 + k], (padded[:4] * b)[:k])
        np.testing.assert_array_equal(out[8 + k : 16], np.nan)
        np.testing.assert_array_equal(out[16:20], a4 + b)
        np.testing.assert_array_equal(out[24:28], a4 - b)
        np.testing.assert_array_equal(out[32:36], a4 / b)
        # the exact a b + c, rounded once (Fraction to float rounds correctly)
        fused = [float(Fraction(p) * Fraction(q) + Fraction(0.25)) for p, q in zip(a4, b)]
        np.testing.assert_array_equal(out[40:44], fused)
        np.testing.assert_array_equal(out[44:48], np.nan)
        fused_low = [float(Fraction(p) * Fraction(q) + Fraction(r)) for p, q, r in zip(a4, b, c8)]
        np.testing.assert_array_equal(out[48:56], np.concatenate([fused_low, c8[4:]]))
        np.testing.assert_array_equal(out[56:60], a4)
        np.testing.assert_array_equal(out[60:64], np.nan)
        wide = np.zeros(8)
        wide[:k] = a
        np.testing.assert_array_equal(out[64:72], wide)
    b = rng.normal(size=4)
    for bad in (1e26, -np.inf, np.nan):
        for lane in range(4):
            a = rng.normal(size=4)
            a[lane] = bad
            for count in range(6):
                assert narrow_lanes(a, b, np.zeros(8), count, bound, np.empty(72)) == (1 if lane < count else 0)


def test_lanes_of_two_widths_do_not_mix():
    """An f64x8 and an f64x4 in one operation is a typing error naming the operation."""

    @numba.njit
    def mixed(a):
        return simd.hsum(simd.vadd(simd.vload(a, 0, 8), simd.vload4(a, 0, 4)))

    with pytest.raises(numba.core.errors.TypingError, match="fadd needs two vectors"):
        mixed(np.zeros(8))


@functools.lru_cache(maxsize=None)
def _stepwise(cls, alg):
    # the advance every other (model, algorithm) runs: a step, then the
    # divergence test, at a time (compiled once per pair: hyperparameters
    # are arguments)
    from toylab._kernels.fast.cpu import ERROR_MODEL, FINITE, STEPS
    from toylab._kernels.fast.steps import _stepwise

    return _stepwise(numba.njit(error_model=ERROR_MODEL), STEPS[cls][alg], FINITE)


@pytest.mark.parametrize(
    "cls,alg",
    [
        (LinearRegression, SGD(0.05, 8, weight_decay=0.1)),
        (LinearRegression, SVAG(0.05, 8, 4, weight_decay=0.1)),
        (SphereRegression, SGD(0.05, 8, weight_decay=0.1)),
        # batch sizes that are not powers of two: the batch mean a division
        (LinearRegression, SGD(0.05, 5, weight_decay=0.1)),
        (LinearRegression, SVAG(0.05, 6, 4, weight_decay=0.1)),
    ],
    ids=["LinearRegression-SGD", "LinearRegression-SVAG", "SphereRegression-SGD", "LinearRegression-SGD-B5", "LinearRegression-SVAG-B6"],
)
def test_advance_in_lanes_is_the_stepwise_advance(cls, alg):
    """SGD and SVAG sampling with replacement at d <= 12 run from one record
    to the next with x in two vectors, 8 lanes and 4 (kernels.fast.steps._in_lanes,
    a kernel of its own that toylab._fast chooses there).  On
    LinearRegression that is the stepwise advance bit for bit; on
    SphereRegression |x|^2 is a horizontal sum there (sp_prepare adds the
    squares in order), so the two agree to rounding.  Ranges start inside a
    group of 8 steps and cross groups; seed 31, path 15, step 3 has a word
    rejected at n = 641 (the word-by-word draw).  A path that diverges
    inside a range is reported by both.  The lanes form takes the batch mean
    as a product by 1/B where B is a power of two (8 here) and as a division
    otherwise (5 and 6): the same bits either way."""
    from toylab._kernels.fast.cpu import ADVANCE
    from toylab._kernels.fast.steps import IN_LANES, kernel_name
    from toylab._fast import algorithm_params

    name, alg_name = cls.__name__, type(alg).__name__
    lanes, stepwise = ADVANCE[name][kernel_name(alg_name, IN_LANES)], _stepwise(name, alg_name)
    n, seed, path = 641, np.uint64(31), 15
    assert np.any((R.words(31, [path], 3, R.KIND_BATCH1, 8) * np.uint64(n)) & np.uint64(MASK32) < 2**32 % n)

    def run(fn, model, algorithm, x0, k, k_end):
        kdata = model_data(model)
        params = algorithm_params(model, algorithm)
        d = x0.shape[0]
        perms = np.zeros((2, perm_length(1, algorithm.batch_size)), np.int64)
        x = x0.copy()
        scratch = (np.zeros(4, np.uint64), np.zeros(1, np.int64), np.zeros(2), np.zeros(d), np.zeros(d), np.zeros(d), np.zeros(d))
        alive = fn(x, k, k_end, path, seed, kdata, params, perms[0], perms[1], *scratch)
        return alive, x

    # x's second vector empty, partly and wholly used
    for d in (1, 3, 8, 9, 10, 12):
        model = data(cls, n, d, seed=d)
        x0 = np.linspace(-1.0, 1.0, d) + 0.5
        for k, k_end in [(0, 13), (3, 4), (5, 21)]:
            (alive_a, xa), (alive_b, xb) = (run(fn, model, alg, x0, k, k_end) for fn in (lanes, stepwise))
            assert alive_a and alive_b
            if cls is LinearRegression:
                np.testing.assert_array_equal(xa, xb)
            else:
                np.testing.assert_allclose(xa, xb, rtol=1e-12, atol=1e-15)
        # a step size whose weight decay alone multiplies x by 1 - 10^5 a step
        loud = type(alg)(1e6, *([alg.batch_size] if alg_name == "SGD" else [alg.batch_size, alg.l]), weight_decay=0.1)
        for k, k_end in [(0, 40), (3, 35)]:
            (alive_a, _), (alive_b, _) = (run(fn, model, loud, x0, k, k_end) for fn in (lanes, stepwise))
            assert not alive_a and not alive_b
