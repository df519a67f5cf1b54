"""Per-path algorithm steps and observables, composed with a model's functions.

One step function per algorithm, written once; :func:`build` composes it with
one model's namespace from ``kernels.fast.models``.  The update formulas are those of
``toylab._numpy_backend`` operation for operation, so the backends agree up to
floating-point rounding.

The model's data are a ``kernels.fast.models.LinearData``; the parameters a
:data:`FastParams` made by ``toylab._fast.algorithm_params``: ``lr``,
``weight_decay``, ``step`` (the drift's step: lr, lr/l or dt), SVAG's ``c1``
and ``c2``, ``noise_coef`` (the factor on the noise: lr for NGD, sqrt(dt lr)
for Euler-Maruyama), ``sqrt_f`` and ``f`` (the batch factor of Sigma_B),
``batch_size``, the ``sampler``'s code and ``records_trace`` (1 where
noise_trace is recorded).

Step signature::

    step(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2)

and the steps k .. k_end - 1 at once, False once the path has diverged::

    advance(x, k, k_end, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2)
"""

from __future__ import annotations

import math
from collections import namedtuple

from .. import engine as _engine
from .. import rng as R
from .. import tagged

exp = math.exp

#: Algorithms that run another's step (with other coefficients), and so its kernel.
SHARED_STEPS = {"EulerMaruyama": "NGD"}
#: The noise constructions (``toylab.models.DataSetModel.noise_method``), a form each.
NOISE_FORMS = ("per_sample", "moments")
#: SGD's and SVAG's form with x in vector registers.
IN_LANES = "in_lanes"


def kernel_name(algorithm, form=""):
    """The ``advance`` of ``algorithm`` (a class name) in ``form`` ("" for the
    stepwise one, a noise method for NGD, ``IN_LANES``)."""
    algorithm = SHARED_STEPS.get(algorithm, algorithm)
    return f"{algorithm}.{form}" if form else algorithm

#: The fast steps' hyperparameters (module docstring).
FastParams = namedtuple(
    "FastParams",
    ["lr", "weight_decay", "step", "c1", "c2", "noise_coef", "sqrt_f", "f", "batch_size", "sampler", "records_trace"],
)

ALGORITHMS = ("SGD", "SVAG", "NGD", "EulerMaruyama", "GD")


def build(jit, model, tag, finite, hot=None, lanes=None, bound=None):
    """Steps of every algorithm, their ``advance`` and the observables, for one model namespace.

    ``tag`` (the model's name) keeps the compiled symbols of each model's
    steps apart (see ``kernels.tagged``); ``hot`` (default ``jit``) compiles
    the steps, which the CPU inlines into its kernel.  ``finite`` is
    :func:`build_path`'s divergence test, ``bound`` its bound.

    ``advance`` runs a path from step k to the next record: step by step,
    stopping at the first step after which ``finite(x)`` fails.  With
    ``lanes`` (the CPU's ``kernels.fast.simd``) and a model with
    ``batch_sum_lanes`` (the linear models), SGD and SVAG sampling with
    replacement at d <= 12 keep x in two vectors from one record to the
    next instead: the same arithmetic lane by lane, without x's round
    trip through memory at every step, which sat on the chain of dependent
    operations from one step to the next.  The divergence test then runs on
    the vectors at every step and is read at the end: a path that diverges
    between two records misses the same records either way.
    Returns ``(steps, advance, observe)``; ``advance`` holds, beside each
    step's, the forms of ``kernel_name``.  NGD and Euler-Maruyama share the
    step ``"NGD"`` (:data:`SHARED_STEPS`).
    """
    hot_untagged = jit if hot is None else hot
    hot = tagged(hot_untagged, tag)
    jit = tagged(jit, tag)
    batch_grad = model["batch_grad"]
    grad = model["grad"]
    noise_unit = model["noise_unit"]
    loss = model["loss"]
    sigma1_trace = model["sigma1_trace"]
    k1, k2 = R.KIND_BATCH1, R.KIND_BATCH2
    e1, e2 = R.KIND_EPOCH1, R.KIND_EPOCH2

    @hot
    def sgd(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        # eq. (1): x <- x - lr (grad L_gamma(x) + wd x)
        batch_grad(x, data, params.batch_size, params.sampler, perm1, buf, cur, seed, path, k, k1, e1, aux, t1, g)
        lr = params.lr
        wd = params.weight_decay
        for c in range(x.shape[0]):
            x[c] = x[c] - lr * (g[c] + wd * x[c])

    @hot
    def svag(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        # eq. (5): x <- x - (lr/l)(c1 grad L_gamma1 + c2 grad L_gamma2 + wd x);
        # the two batches in a loop, so that the batch gradient is compiled
        # (and inlined) once: half the cold compile
        for which in range(2):
            perm = perm1 if which == 0 else perm2
            out = g if which == 0 else g2
            kind = k1 if which == 0 else k2
            epoch_kind = e1 if which == 0 else e2
            batch_grad(x, data, params.batch_size, params.sampler, perm, buf, cur, seed, path, k, kind, epoch_kind, aux, t1, out)
        wd = params.weight_decay
        s = params.step
        c1 = params.c1
        c2 = params.c2
        for c in range(x.shape[0]):
            x[c] = x[c] - s * ((c1 * g[c] + c2 * g2[c]) + wd * x[c])

    def make_noisy(noise_draw, label):
        def noisy(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
            # NGD eq. (3) (s = coef = lr) and Euler-Maruyama (s = dt, coef = sqrt(dt lr)):
            # x <- x - s (grad L + wd x) + coef Sigma_B^{1/2} z
            grad(x, data, aux, g)
            noise_draw(x, data, seed, path, k, aux, t1, t2, g2)
            wd = params.weight_decay
            s = params.step
            coef = params.noise_coef
            sqrt_f = params.sqrt_f
            for c in range(x.shape[0]):
                x[c] = x[c] - s * (g[c] + wd * x[c]) + coef * (sqrt_f * g2[c])

        # one qualified name per form (kernels.tagged)
        noisy.__qualname__ = f"{label}.{noisy.__qualname__}"
        return hot(noisy)

    noisy = make_noisy(noise_unit, "NGD")

    @hot
    def gd(x, k, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        grad(x, data, aux, g)
        lr = params.lr
        wd = params.weight_decay
        for c in range(x.shape[0]):
            x[c] = x[c] - lr * (g[c] + wd * x[c])

    @jit
    def observe(x, data, params, aux, t1, t2, obs):
        # sq_norm, loss, grad_sq_norm, norm4, gauss_bump and, where there is
        # a batch, noise_trace (the order of toylab.simulate.BUILTIN_OBSERVABLES)
        s = 0.0
        for c in range(x.shape[0]):
            s += x[c] * x[c]
        obs[0] = s
        obs[1] = loss(x, data, aux)
        obs[3] = s * s
        obs[4] = exp(-0.5 * s)
        grad(x, data, aux, t1)
        s = 0.0
        for c in range(x.shape[0]):
            s += t1[c] * t1[c]
        obs[2] = s
        if params.records_trace != 0:
            obs[5] = params.f * sigma1_trace(x, data, aux, t1, t2)

    steps = {"SGD": sgd, "SVAG": svag, "NGD": noisy, "GD": gd}
    advance = {name: _stepwise(tagged(hot_untagged, f"{tag}.{name}"), step, finite) for name, step in steps.items()}
    # the forms a kernel of its own takes (kernel_name): NGD with one noise
    # construction, SGD and SVAG with x in vectors; each compiles only where
    # it is chosen, in a fraction of the time of a kernel that holds all
    for method in NOISE_FORMS:
        step = make_noisy(model[f"noise_{method}"], f"NGD_{method}")
        advance[kernel_name("NGD", method)] = _stepwise(tagged(hot_untagged, f"{tag}.NGD.{method}"), step, finite)
    batch_sum_lanes = model.get("batch_sum_lanes")
    if lanes is not None and batch_sum_lanes is not None:
        sgd_lanes, svag_lanes = _in_lanes(hot, lanes, batch_sum_lanes, bound)
        advance[kernel_name("SGD", IN_LANES)], advance[kernel_name("SVAG", IN_LANES)] = sgd_lanes, svag_lanes
    return steps, advance, observe


def _stepwise(hot, step, finite):
    """``advance`` for any step: one step at a time, the divergence test after each."""

    @hot
    def advance(x, k, k_end, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        for j in range(k, k_end):
            step(x, j, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2)
            # a diverged path stops here: it is missing from every later record
            if not finite(x):
                return False
        return True

    return advance


def _in_lanes(hot, lanes, batch_sum_lanes, bound):
    """SGD's and SVAG's ``advance`` with x in vector registers: the CPU, d <= 12
    (``LANES_MAX_DIM``), sampling with replacement, which ``toylab._fast``
    checks before it chooses them (the stepwise ``advance`` serves the rest).

    x is an 8-lane vector of its first 8 coordinates and a 4-lane one of the
    rest (``kernels.fast.simd``'s f64x8 and f64x4).  The update is ``sgd``'s and
    ``svag``'s operation for operation: the batch mean as a division by B,
    then eq. (1) or eq. (5), each lane rounded as the scalar loop rounds its
    coordinate, so both forms give the same bits.

    Why not d <= 16 with an 8-lane second vector as well: for d = 9 .. 12
    four of its lanes only ever hold zeros, which cost a register operation
    each on a machine with 4-lane registers (AVX2); and compiling the loop
    for both widths cost 11-13 s more a kernel, cold (BENCHMARKS.md), for
    dimensions above the benchmark's d = 10.
    """
    vload, vload4, vstore, splat_like, vmul, vadd, vsub, vdiv, beyond = (
        lanes.vload, lanes.vload4, lanes.vstore, lanes.splat_like,
        lanes.vmul, lanes.vadd, lanes.vsub, lanes.vdiv, lanes.beyond,
    )
    L = lanes.LANES
    k1, k2 = R.KIND_BATCH1, R.KIND_BATCH2

    @hot
    def batch_mean(s_lo, s_hi, exact_inverse, inv_lo, inv_hi, size_lo, size_hi):
        # The batch mean s / B, as s * (1 / B) where B is a power of two
        # (exact_inverse): 1 / B is then exact, and both forms round the same
        # real number, so they give the same bits; a division sits on the
        # chain from one step to the next and takes some 13 cycles (Zen 3), a
        # multiplication 3.
        if exact_inverse:
            return vmul(s_lo, inv_lo), vmul(s_hi, inv_hi)
        return vdiv(s_lo, size_lo), vdiv(s_hi, size_hi)

    def make(two_batches, name):
        def advance(x, k, k_end, path, seed, data, params, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
            d = x.shape[0]
            B = params.batch_size
            lo = min(d, L)
            hi = d - L
            x_lo = vload(x, 0, lo)
            x_hi = vload4(x, L, hi)
            # SGD, eq. (1): x <- x - lr (grad L_gamma(x) + wd x); SVAG, eq. (5):
            # x <- x - (lr/l)(c1 grad L_gamma1 + c2 grad L_gamma2 + wd x);
            # each factor in a vector of either width
            step = params.step if two_batches else params.lr
            step_lo, step_hi = splat_like(x_lo, step), splat_like(x_hi, step)
            wd_lo, wd_hi = splat_like(x_lo, params.weight_decay), splat_like(x_hi, params.weight_decay)
            c1_lo, c1_hi = splat_like(x_lo, params.c1), splat_like(x_hi, params.c1)
            c2_lo, c2_hi = splat_like(x_lo, params.c2), splat_like(x_hi, params.c2)
            size_lo, size_hi = splat_like(x_lo, float(B)), splat_like(x_hi, float(B))
            exact_inverse = (B & (B - 1)) == 0
            inv_lo, inv_hi = splat_like(x_lo, 1.0 / B), splat_like(x_hi, 1.0 / B)
            diverged = 0
            for j in range(k, k_end):
                if two_batches:
                    # c1 g + c2 h, the two batches in a loop so that the
                    # batch sum is compiled (and inlined) once
                    g_lo, g_hi = x_lo, x_hi
                    for which in range(2):
                        perm = perm1 if which == 0 else perm2
                        kind = k1 if which == 0 else k2
                        h_lo, h_hi = batch_sum_lanes(x_lo, x_hi, d, data, B, perm, buf, cur, seed, path, j, kind)
                        h_lo, h_hi = batch_mean(h_lo, h_hi, exact_inverse, inv_lo, inv_hi, size_lo, size_hi)
                        if which == 0:
                            g_lo, g_hi = vmul(c1_lo, h_lo), vmul(c1_hi, h_hi)
                        else:
                            g_lo = vadd(g_lo, vmul(c2_lo, h_lo))
                            g_hi = vadd(g_hi, vmul(c2_hi, h_hi))
                else:
                    g_lo, g_hi = batch_sum_lanes(x_lo, x_hi, d, data, B, perm1, buf, cur, seed, path, j, k1)
                    g_lo, g_hi = batch_mean(g_lo, g_hi, exact_inverse, inv_lo, inv_hi, size_lo, size_hi)
                x_lo = vsub(x_lo, vmul(step_lo, vadd(g_lo, vmul(wd_lo, x_lo))))
                x_hi = vsub(x_hi, vmul(step_hi, vadd(g_hi, vmul(wd_hi, x_hi))))
                diverged |= beyond(x_lo, lo, bound) | beyond(x_hi, hi, bound)
            vstore(x, 0, lo, x_lo)
            vstore(x, L, hi, x_hi)
            return diverged == 0

        # one qualified name per algorithm (kernels.tagged)
        advance.__qualname__ = f"{name}.{advance.__qualname__}"
        return hot(advance)

    return make(False, "SGD"), make(True, "SVAG")


def build_path(jit, bound):
    """Per-path helpers of the fast kernels on the CPU and the GPU.

    ``start(x, x0, perm1, perm2)`` puts a path at x0 with identity index
    arrays; ``finite(x)`` is the general engine's divergence test
    (``kernels.engine.build_path``).
    """

    @jit
    def start(x, x0, perm1, perm2):
        for c in range(x.shape[0]):
            x[c] = x0[c]
        for i in range(perm1.shape[0]):
            perm1[i] = i
            perm2[i] = i

    return start, _engine.build_path(jit, bound)[1]
