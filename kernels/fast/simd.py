"""Eight-lane vectors for the CPU kernels: what LLVM does not find on its own.

Two parts of an SGD step stay scalar when written as Numba loops:

* The batch gradient of a linear model.  Its dot products are chains of
  dependent additions (LLVM may not reorder floating-point sums), and with d
  around 10 a vectorised loop would run its scalar remainder only.
* The Philox calls that draw the batch indices: ten rounds of dependent
  multiplies per block, two blocks a step for B = 8.

This module gives Numba an 8-lane ``float64`` type (:data:`f64x8`, LLVM's
``<8 x double>``) and an 8-lane ``uint64`` type (:data:`u64x8`), with the few
operations those two need: masked loads and stores (a row of any length d, 8
numbers at a time), fused multiply-add, a horizontal sum in a fixed order,
and the integer operations of Philox.  LLVM lowers the types to whatever the
machine has (one AVX-512 register, two AVX2 registers, ...).

A 4-lane ``float64`` type (:data:`f64x4`) holds the last numbers of a row
of 9 to 12: as the second half of an 8-lane pair, 4 of its 8 lanes would
only ever hold zeros, and on a machine with 4-lane registers (AVX2) they
cost a register operation each time.  The float operations take either
width (both operands of one width); :func:`splat_like` and
:func:`vload_like` make a vector of another one's width, and
:func:`vfma_low` adds a 4-lane product into the low lanes of an 8-lane sum.

:func:`philox_lanes` is Philox4x32-10 (``kernels.rng``) on eight counters at
once, and :func:`bounded_lanes` uses it to draw the batch indices of eight
consecutive steps of one path, word for word those of ``rng.draw_bounded``.

CPU only: the GPU runs a path per thread and keeps the scalar code.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, models, register_model

from ..rng import _M0, _M1, _MASK32, _S24, _S32, _W0, _W1

#: Lanes in a vector.
LANES = 8
#: Lanes in the narrow float64 vector (:data:`f64x4`).
NARROW = 4

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_VD = ir.VectorType(ir.DoubleType(), LANES)
_VD4 = ir.VectorType(ir.DoubleType(), NARROW)
_VI = ir.VectorType(_I64, LANES)


class F64x8(types.Type):
    """Eight float64 lanes."""

    def __init__(self):
        super().__init__(name="F64x8")


class F64x4(types.Type):
    """Four float64 lanes."""

    def __init__(self):
        super().__init__(name="F64x4")


class U64x8(types.Type):
    """Eight uint64 lanes."""

    def __init__(self):
        super().__init__(name="U64x8")


f64x8 = F64x8()
f64x4 = F64x4()
u64x8 = U64x8()

# the float vector types and their LLVM types
_FLOAT_VECTORS = {f64x8: _VD, f64x4: _VD4}


@register_model(F64x8)
class _F64x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VD)


@register_model(F64x4)
class _F64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VD4)


@register_model(U64x8)
class _U64x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VI)


# ------------------------------------------------------------ LLVM helpers
def _splat(builder, value, vecty):
    v = builder.insert_element(ir.Constant(vecty, ir.Undefined), value, ir.Constant(_I32, 0))
    width = vecty.count
    return builder.shuffle_vector(v, ir.Constant(vecty, ir.Undefined), ir.Constant(ir.VectorType(_I32, width), [0] * width))


def _lane_mask(builder, count, width=LANES):
    # lanes 0 .. count - 1 (all of them when count >= width, none when count <= 0)
    if count.type.width < 64:
        count = builder.sext(count, _I64)
    vi = ir.VectorType(_I64, width)
    return builder.icmp_signed("<", ir.Constant(vi, list(range(width))), _splat(builder, count, vi))


def _float_vector(v, what):
    if v not in _FLOAT_VECTORS:
        raise TypingError(f"{what} needs an f64x8 or an f64x4, got {v}")
    return _FLOAT_VECTORS[v]


def _address(context, builder, arrty, arr, start, vecty):
    ary = context.make_array(arrty)(context, builder, arr)
    return builder.bitcast(cgutils.gep(builder, ary.data, start), vecty.as_pointer())


def _masked_load(context, builder, arrty, arr, start, mask, vecty=_VD):
    # arr.flat[start + j] in the lanes j of mask, zeros in the others (not read)
    width = vecty.count
    ptr = _address(context, builder, arrty, arr, start, vecty)
    fnty = ir.FunctionType(vecty, [ptr.type, _I32, mask.type, vecty])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.load.v{width}f64.{_pointer_name('f64', width)}")
    return builder.call(fn, [ptr, ir.Constant(_I32, 8), mask, ir.Constant(vecty, [0.0] * width)])


def _counted_load(context, builder, arrty, arr, start, count, vecty):
    # arr.flat[start : start + count] in the first lanes of a vecty, zeros above
    mask = _lane_mask(builder, count, vecty.count)
    return _masked_load(context, builder, arrty, arr, start, mask, vecty)


def _pointer_name(element, width=LANES):
    # the pointer's part of an overloaded intrinsic's name: opaque pointers
    # ("p0") from LLVM 15 on, whatever llvmlite's IR layer prints
    if llvm_version_info[0] >= 15:
        return "p0"
    return f"p0v{width}{element}"


def _check_array(arr, dtypes, what):
    if not isinstance(arr, types.Array) or arr.layout != "C" or arr.dtype not in dtypes:
        raise TypingError(f"{what} needs a C-contiguous array of {dtypes}, got {arr}")


def _lanewise(name, vtys, doc):
    """The intrinsic ``op(a, b)``: LLVM's ``name`` of two vectors of one of the types ``vtys``."""

    @intrinsic
    def op(typingctx, a, b):
        if a not in vtys or b != a:
            raise TypingError(f"{name} needs two vectors of one of {vtys}, got {a} and {b}")

        def codegen(context, builder, sig, args):
            return getattr(builder, name)(args[0], args[1])

        return a(a, a), codegen

    op.__doc__ = doc
    return op


def _broadcast(vty, ety, llvm_vecty, doc):
    """The intrinsic ``splat(x)``: eight copies of a scalar of type ``ety``."""

    @intrinsic
    def splat(typingctx, x):
        def codegen(context, builder, sig, args):
            return _splat(builder, args[0], llvm_vecty)

        return vty(ety), codegen

    splat.__doc__ = doc
    return splat


# --------------------------------------------------------------- float64
@intrinsic
def vload(typingctx, arr, start, count):
    """``arr.flat[start : start + count]`` in lanes ``0 .. count - 1``, zeros above.

    Lanes at or past ``count`` are not read, so a row's tail never reads past
    the array.  ``arr`` C-contiguous float64 (any dimension: ``start`` is flat).
    """
    _check_array(arr, (types.float64,), "vload")

    def codegen(context, builder, sig, args):
        return _counted_load(context, builder, sig.args[0], args[0], args[1], args[2], _VD)

    return f64x8(arr, start, count), codegen


@intrinsic
def vload_window(typingctx, arr, start, lo, hi):
    """``arr.flat[start + j]`` in the lanes j with ``lo <= j < hi``, zeros elsewhere.

    Lanes outside the window are not read.  Row c of a packed upper
    triangle, loaded from its start less c with lo = c, has each column j
    in lane j.
    """
    _check_array(arr, (types.float64,), "vload_window")

    def codegen(context, builder, sig, args):
        # lanes below hi and not below lo
        mask = builder.and_(_lane_mask(builder, args[3]), builder.not_(_lane_mask(builder, args[2])))
        return _masked_load(context, builder, sig.args[0], args[0], args[1], mask)

    return f64x8(arr, start, lo, hi), codegen


@intrinsic
def vload4(typingctx, arr, start, count):
    """:func:`vload` into an :data:`f64x4`: lanes ``0 .. count - 1`` of
    ``arr.flat[start:]``, zeros above, nothing past them read."""
    _check_array(arr, (types.float64,), "vload4")

    def codegen(context, builder, sig, args):
        return _counted_load(context, builder, sig.args[0], args[0], args[1], args[2], _VD4)

    return f64x4(arr, start, count), codegen


@intrinsic
def vload_like(typingctx, like, arr, start, count):
    """:func:`vload` into a vector as wide as ``like`` (an f64x8 or an f64x4)."""
    vecty = _float_vector(like, "vload_like")
    _check_array(arr, (types.float64,), "vload_like")

    def codegen(context, builder, sig, args):
        return _counted_load(context, builder, sig.args[1], args[1], args[2], args[3], vecty)

    return like(like, arr, start, count), codegen


@intrinsic
def vstore(typingctx, arr, start, count, value):
    """``arr.flat[start : start + count] = value[:count]`` (an f64x8 or an f64x4); nothing else is written."""
    _check_array(arr, (types.float64,), "vstore")
    vecty = _float_vector(value, "vstore")

    def codegen(context, builder, sig, args):
        width = vecty.count
        ptr = _address(context, builder, sig.args[0], args[0], args[1], vecty)
        mask = _lane_mask(builder, args[2], width)
        fnty = ir.FunctionType(ir.VoidType(), [vecty, ptr.type, _I32, mask.type])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.store.v{width}f64.{_pointer_name('f64', width)}")
        builder.call(fn, [args[3], ptr, ir.Constant(_I32, 8), mask])
        return context.get_dummy_value()

    return types.none(arr, start, count, value), codegen


@intrinsic
def fload(typingctx, arr, start):
    """``arr.flat[start : start + 8]``, all eight read (no mask: the caller
    knows they lie in the array)."""
    _check_array(arr, (types.float64,), "fload")

    def codegen(context, builder, sig, args):
        return builder.load(_address(context, builder, sig.args[0], args[0], args[1], _VD), align=8)

    return f64x8(arr, start), codegen


@intrinsic
def fstore(typingctx, arr, start, value):
    """``arr.flat[start : start + 8] = value`` (no mask, like :func:`fload`)."""
    _check_array(arr, (types.float64,), "fstore")

    def codegen(context, builder, sig, args):
        builder.store(args[2], _address(context, builder, sig.args[0], args[0], args[1], _VD), align=8)
        return context.get_dummy_value()

    return types.none(arr, start, value), codegen


splat = _broadcast(f64x8, types.float64, _VD, "Eight copies of the float64 ``x``.")


@intrinsic
def splat_like(typingctx, like, x):
    """A vector as wide as ``like`` (an f64x8 or an f64x4) with the float64 ``x`` in every lane."""
    vecty = _float_vector(like, "splat_like")

    def codegen(context, builder, sig, args):
        return _splat(builder, context.cast(builder, args[1], sig.args[1], types.float64), vecty)

    return like(like, x), codegen


def _fma(builder, vecty, a, b, c):
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vecty, [vecty] * 3), f"llvm.fma.v{vecty.count}f64")
    return builder.call(fn, [a, b, c])


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane, rounded once (three vectors of one width)."""
    vecty = _float_vector(a, "vfma")
    if b != a or c != a:
        raise TypingError(f"vfma needs three vectors of one width, got {a}, {b} and {c}")

    def codegen(context, builder, sig, args):
        return _fma(builder, vecty, *args)

    return a(a, a, a), codegen


@intrinsic
def vfma_low(typingctx, a, b, c):
    """``a * b + c`` in the low lanes of the f64x8 ``c``, as many as ``a`` and
    ``b`` have (f64x8 or f64x4), ``c`` in the others, each rounded once.

    With the f64x4 ``a`` the value is that of :func:`vfma` with ``a`` and
    ``b`` widened by zeros, up to the sign of a zero lane (0 * 0 + c is c):
    the dot product of a row of 9 to 12 numbers as its first 8 and its last
    4 (``hsum(vfma_low(a_hi, z_hi, vmul(a_lo, z_lo)))``).
    """
    vecty = _float_vector(a, "vfma_low")
    if b != a or c != f64x8:
        raise TypingError(f"vfma_low needs two vectors of one width and an f64x8, got {a}, {b} and {c}")

    def codegen(context, builder, sig, args):
        if vecty is _VD:
            return _fma(builder, _VD, *args)

        def pick(x, y, lanes):
            return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(_I32, len(lanes)), lanes))

        low = pick(args[2], args[2], list(range(NARROW)))
        summed = _fma(builder, _VD4, args[0], args[1], low)
        wide = pick(summed, summed, list(range(NARROW)) * 2)
        return pick(wide, args[2], list(range(NARROW)) + list(range(LANES + NARROW, 2 * LANES)))

    return f64x8(a, a, f64x8), codegen


_FLOATS = (f64x8, f64x4)
vmul = _lanewise("fmul", _FLOATS, "``a * b`` lane by lane.")
vadd = _lanewise("fadd", _FLOATS, "``a + b`` lane by lane.")
vsub = _lanewise("fsub", _FLOATS, "``a - b`` lane by lane.")
vdiv = _lanewise("fdiv", _FLOATS, "``a / b`` lane by lane (correctly rounded, as the scalar division).")


@intrinsic
def vfrom(typingctx, v, lo):
    """``v`` in the lanes ``j >= lo``, zeros in the lanes below (an f64x8 or an f64x4)."""
    vecty = _float_vector(v, "vfrom")

    def codegen(context, builder, sig, args):
        keep = builder.not_(_lane_mask(builder, args[1], vecty.count))
        return builder.select(keep, args[0], ir.Constant(vecty, [0.0] * vecty.count))

    return v(v, lo), codegen


@intrinsic
def beyond(typingctx, v, count, bound):
    """1 if a lane ``j < count`` of ``v`` is not ``|v_j| <= bound`` (above it, or NaN), else 0.

    The divergence test of ``kernels.fast.steps.build_path``'s ``finite`` on a
    vector (f64x8 or f64x4), without a branch: a compare, a mask and one
    test of its bits.
    """
    vecty = _float_vector(v, "beyond")

    def codegen(context, builder, sig, args):
        vec, cnt, bnd = args
        width = vecty.count
        fabs = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vecty, [vecty]), f"llvm.fabs.v{width}f64")
        inside = builder.fcmp_ordered("<=", builder.call(fabs, [vec]), _splat(builder, bnd, vecty))
        outside = builder.and_(builder.not_(inside), _lane_mask(builder, cnt, width))
        bits = builder.bitcast(outside, ir.IntType(width))
        return builder.zext(builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(width), 0)), _I64)

    return types.int64(v, count, types.float64), codegen


@intrinsic
def hsum(typingctx, v):
    """The sum of the eight lanes, ``((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))``.

    A fixed order (halves, then quarters), so the result never depends on
    the machine's vector width.
    """

    def codegen(context, builder, sig, args):
        def pick(vec, lanes):
            return builder.shuffle_vector(vec, ir.Constant(vec.type, ir.Undefined), ir.Constant(ir.VectorType(_I32, len(lanes)), lanes))

        quad = builder.fadd(pick(args[0], [0, 1, 2, 3]), pick(args[0], [4, 5, 6, 7]))
        pair = builder.fadd(pick(quad, [0, 1]), pick(quad, [2, 3]))
        return builder.fadd(builder.extract_element(pair, ir.Constant(_I32, 0)), builder.extract_element(pair, ir.Constant(_I32, 1)))

    return types.float64(f64x8), codegen


@intrinsic
def f64_bits(typingctx, x):
    """The bits of the float64 ``x`` as an int64 (a bit cast, no conversion)."""

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _I64)

    return types.int64(types.float64), codegen


@intrinsic
def bits_f64(typingctx, i):
    """The float64 whose bits are the int64 ``i`` (a bit cast)."""

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def hsum8(typingctx, v0, v1, v2, v3, v4, v5, v6, v7):
    """The vector whose lane c is ``hsum(v_c)``, added in :func:`hsum`'s order.

    Eight horizontal sums at the cost of seven vector additions: the halves of
    two vectors are paired by shuffles, then the quarters, then the lanes.
    """

    def codegen(context, builder, sig, args):
        def pair(a, b, first, second):
            mask = ir.VectorType(_I32, LANES)
            return builder.fadd(
                builder.shuffle_vector(a, b, ir.Constant(mask, first)),
                builder.shuffle_vector(a, b, ir.Constant(mask, second)),
            )

        # lanes 0-3 of a (i + 4 added to i), then lanes 0-3 of b, likewise
        halves = [pair(args[2 * k], args[2 * k + 1], [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]) for k in range(4)]
        # each vector's quarter sums: (s0 + s2, s1 + s3)
        quarters = [pair(halves[2 * k], halves[2 * k + 1], [0, 1, 4, 5, 8, 9, 12, 13], [2, 3, 6, 7, 10, 11, 14, 15]) for k in range(2)]
        return pair(quarters[0], quarters[1], [0, 2, 4, 6, 8, 10, 12, 14], [1, 3, 5, 7, 9, 11, 13, 15])

    return f64x8(*([f64x8] * LANES)), codegen


# ---------------------------------------------------------------- uint64
usplat = _broadcast(u64x8, types.uint64, _VI, "Eight copies of the uint64 ``x``.")


@intrinsic
def uiota(typingctx, x):
    """``x + (0, 1, ..., 7)`` (uint64)."""

    def codegen(context, builder, sig, args):
        return builder.add(_splat(builder, args[0], _VI), ir.Constant(_VI, list(range(LANES))))

    return u64x8(types.uint64), codegen


umul = _lanewise("mul", (u64x8,), "``a * b`` mod 2**64, lane by lane (32 x 32 -> 64 bits where both are below 2**32).")
uxor = _lanewise("xor", (u64x8,), "``a ^ b`` lane by lane.")
uand = _lanewise("and_", (u64x8,), "``a & b`` lane by lane.")
ushr = _lanewise("lshr", (u64x8,), "``a >> b`` (logical) lane by lane.")


@intrinsic
def ubelow(typingctx, a, b):
    """Bit l of the result (an int64) is set where lane l of ``a`` is below that of ``b``."""

    def codegen(context, builder, sig, args):
        bits = builder.bitcast(builder.icmp_unsigned("<", args[0], args[1]), ir.IntType(LANES))
        return builder.zext(bits, _I64)

    return types.int64(u64x8, u64x8), codegen


@intrinsic
def ustore(typingctx, arr, start, value):
    """``arr.flat[start : start + 8] = value`` (``arr`` C-contiguous int64 or uint64)."""
    _check_array(arr, (types.int64, types.uint64), "ustore")

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1], _VI)
        builder.store(args[2], ptr, align=8)
        return context.get_dummy_value()

    return types.none(arr, start, value), codegen


@intrinsic
def uload(typingctx, arr, start):
    """``arr.flat[start : start + 8]`` (``arr`` C-contiguous uint64)."""
    _check_array(arr, (types.uint64,), "uload")

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1], _VI)
        return builder.load(ptr, align=8)

    return u64x8(arr, start), codegen


@intrinsic
def ulane(typingctx, v, lane):
    """Lane ``lane`` of ``v`` as a uint64."""

    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], args[1])

    return types.uint64(u64x8, lane), codegen


# ------------------------------------------------------------ Philox lanes
@njit(inline="always")
def philox_lanes(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 (``kernels.rng.philox``) of eight counters under one key.

    ``c0 .. c3``: :data:`u64x8` of 32-bit words; ``k0, k1``: uint64 below 2**32.
    Returns four :data:`u64x8`, lane l being the block of counter l.
    """
    mask = usplat(_MASK32)
    m0 = usplat(_M0)
    m1 = usplat(_M1)
    s32 = usplat(_S32)
    for _ in range(10):
        # The words are below 2**32, but LLVM cannot tell across the loop's
        # rounds and multiplies 64 x 64 bits (three vpmuludq, two shifts and
        # an add); with the mask, one vpmuludq (a 32 x 32 -> 64 multiply).
        p0 = umul(m0, uand(c0, mask))
        p1 = umul(m1, uand(c2, mask))
        n0 = uxor(uxor(ushr(p1, s32), c1), usplat(k0))
        n2 = uxor(uxor(ushr(p0, s32), c3), usplat(k1))
        c1 = uand(p1, mask)
        c3 = uand(p0, mask)
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


#: Steps whose batch indices :func:`bounded_lanes` draws at once.
STEPS_AT_ONCE = LANES


@njit(inline="always")
def index_lanes_tail(B):
    """Where the indices :func:`bounded_lanes` writes for batches of B end:
    ``8 * 4 * ceil(B / 4)`` (whole Philox blocks of 4 words, 8 steps)."""
    return LANES * 4 * ((B + 3) // 4)


def index_lanes_length(B):
    """Length of an index array holding the batch indices of 8 steps.

    With ``tail = index_lanes_tail(B)``: ``[0, tail)`` the indices as
    :func:`bounded_lanes` writes them, ``tail`` its flagged steps,
    ``tail + 1 .. tail + 4`` the stamp (first step, path, kind, seed) of
    what they are, ``tail + 5 ..`` the B indices of a flagged step drawn
    word by word (``kernels.fast.models``).
    """
    return index_lanes_tail.py_func(B) + 5 + B


@njit
def bounded_lanes(seed, path, step0, kind, n, B, out):
    """Indices ``0 .. B-1`` in [0, n) of streams (seed, path, step0 + l, kind), l < 8.

    Index b of step ``step0 + l`` goes to ``out[8 b + l]``: the high half of
    word b * n (Lemire's multiply-shift, ``kernels.rng``), word b of the
    stream being word ``b mod 4`` of its block ``b // 4``.  These are the
    indices ``rng.draw_bounded`` gives as long as no word of the step is
    rejected.  A word can only be rejected when the low half of word * n is
    below n (the threshold (2**32 - n) mod n is below n): the returned int64
    has bit l set for each step with such a word, whose indices the caller
    must draw with ``draw_bounded`` instead (a chance of about B n / 2**32 a
    step).
    """
    seed = np.uint64(seed)
    path = np.uint64(path)
    mask = usplat(_MASK32)
    # n and the words are below 2**32: masked, each product is one 32 x 32
    # -> 64 multiply (see philox_lanes)
    nn = uand(usplat(np.uint64(n)), mask)
    s32 = usplat(_S32)
    # counter = (step, kind << 24 | block, path mod 2**32, path >> 32), key = seed
    c0 = uand(uiota(np.uint64(step0)), mask)
    c2 = usplat(path & _MASK32)
    c3 = usplat(path >> _S32)
    k0 = seed & _MASK32
    k1 = seed >> _S32
    flagged = 0
    for blk in range((B + 3) // 4):
        c1 = usplat(((np.uint64(kind) << _S24) | np.uint64(blk)) & _MASK32)
        w0, w1, w2, w3 = philox_lanes(c0, c1, c2, c3, k0, k1)
        m = umul(uand(w0, mask), nn)
        ustore(out, (4 * blk) * LANES, ushr(m, s32))
        flagged |= ubelow(uand(m, mask), nn)
        m = umul(uand(w1, mask), nn)
        ustore(out, (4 * blk + 1) * LANES, ushr(m, s32))
        flagged |= ubelow(uand(m, mask), nn)
        m = umul(uand(w2, mask), nn)
        ustore(out, (4 * blk + 2) * LANES, ushr(m, s32))
        flagged |= ubelow(uand(m, mask), nn)
        m = umul(uand(w3, mask), nn)
        ustore(out, (4 * blk + 3) * LANES, ushr(m, s32))
        flagged |= ubelow(uand(m, mask), nn)
    return flagged
