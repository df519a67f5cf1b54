"""Per-path algorithm steps and observables, composed with a model's functions.

One step function per algorithm, written once; :func:`build` composes it with
one model's namespace from ``kernels.models``.  The update formulas are those of
``toylab._numpy_backend`` operation for operation, so the backends agree up to
floating-point rounding.

Parameters travel in two arrays made by ``toylab._compiled.algorithm_arrays``:
``ap = [lr, weight_decay, s, c1, c2, coef, sqrt_f, f]`` (``s`` the drift step,
``c1, c2`` SVAG's coefficients, ``coef`` the factor on the noise, lr for NGD
and sqrt(dt lr) for Euler-Maruyama, ``f`` the batch factor of Sigma_B) and
``ai = [batch_size, sampler code, records noise_trace]``.

Step signature::

    step(x, k, path, seed, M, v, p, ap, ai, perm1, perm2, buf, cur, aux, t1, t2, g, g2)
"""

from __future__ import annotations

import math

from . import rng as R
from . import tagged

exp = math.exp

ALGORITHMS = ("SGD", "SVAG", "NGD", "EulerMaruyama", "GD")


def build(jit, model, tag, hot=None):
    """Steps of every algorithm and the observables, for one model namespace.

    ``tag`` (the model's name) keeps the compiled symbols of each model's
    steps apart (see ``kernels.tagged``); ``hot`` (default ``jit``) compiles
    the steps, which the CPU inlines into its kernel.
    """
    hot = tagged(jit if hot is None else hot, tag)
    jit = tagged(jit, tag)
    batch_grad = model["batch_grad"]
    grad = model["grad"]
    noise_unit = model["noise_unit"]
    loss = model["loss"]
    sigma1_trace = model["sigma1_trace"]
    k1, k2 = R.KIND_BATCH1, R.KIND_BATCH2
    e1, e2 = R.KIND_EPOCH1, R.KIND_EPOCH2

    @hot
    def sgd(x, k, path, seed, M, v, p, ap, ai, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        # eq. (1): x <- x - lr (grad L_gamma(x) + wd x)
        batch_grad(x, M, v, p, ai[0], ai[1], perm1, buf, cur, seed, path, k, k1, e1, aux, t1, g)
        lr = ap[0]
        wd = ap[1]
        for c in range(x.shape[0]):
            x[c] = x[c] - lr * (g[c] + wd * x[c])

    @hot
    def svag(x, k, path, seed, M, v, p, ap, ai, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        # eq. (5): x <- x - (lr/l)(c1 grad L_gamma1 + c2 grad L_gamma2 + wd x)
        batch_grad(x, M, v, p, ai[0], ai[1], perm1, buf, cur, seed, path, k, k1, e1, aux, t1, g)
        batch_grad(x, M, v, p, ai[0], ai[1], perm2, buf, cur, seed, path, k, k2, e2, aux, t1, g2)
        wd = ap[1]
        s = ap[2]
        c1 = ap[3]
        c2 = ap[4]
        for c in range(x.shape[0]):
            x[c] = x[c] - s * ((c1 * g[c] + c2 * g2[c]) + wd * x[c])

    @hot
    def noisy(x, k, path, seed, M, v, p, ap, ai, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        # NGD eq. (3) (s = coef = lr) and Euler-Maruyama (s = dt, coef = sqrt(dt lr)):
        # x <- x - s (grad L + wd x) + coef Sigma_B^{1/2} z
        grad(x, M, v, p, aux, g)
        noise_unit(x, M, v, p, seed, path, k, aux, t1, t2, g2)
        wd = ap[1]
        s = ap[2]
        coef = ap[5]
        sqrt_f = ap[6]
        for c in range(x.shape[0]):
            x[c] = x[c] - s * (g[c] + wd * x[c]) + coef * (sqrt_f * g2[c])

    @hot
    def gd(x, k, path, seed, M, v, p, ap, ai, perm1, perm2, buf, cur, aux, t1, t2, g, g2):
        grad(x, M, v, p, aux, g)
        lr = ap[0]
        wd = ap[1]
        for c in range(x.shape[0]):
            x[c] = x[c] - lr * (g[c] + wd * x[c])

    @jit
    def observe(x, M, v, p, ap, ai, aux, t1, t2, obs):
        # sq_norm, loss, grad_sq_norm, norm4, gauss_bump and, where there is
        # a batch, noise_trace (the order of toylab.simulate.BUILTIN_OBSERVABLES)
        s = 0.0
        for c in range(x.shape[0]):
            s += x[c] * x[c]
        obs[0] = s
        obs[1] = loss(x, M, v, p, aux)
        obs[3] = s * s
        obs[4] = exp(-0.5 * s)
        grad(x, M, v, p, aux, t1)
        s = 0.0
        for c in range(x.shape[0]):
            s += t1[c] * t1[c]
        obs[2] = s
        if ai[2] != 0:
            obs[5] = ap[7] * sigma1_trace(x, M, v, p, aux, t1, t2)

    steps = {"SGD": sgd, "SVAG": svag, "NGD": noisy, "EulerMaruyama": noisy, "GD": gd}
    return steps, observe


def build_path(jit, bound):
    """Per-path helpers shared by the CPU and CUDA ensemble kernels.

    ``start(x, x0, perm1, perm2)`` puts a path at x0 with identity index
    arrays; ``finite(x)`` is False once a coordinate is non-finite or above
    ``bound`` (the path has diverged).
    """

    @jit
    def start(x, x0, perm1, perm2):
        for c in range(x.shape[0]):
            x[c] = x0[c]
        for i in range(perm1.shape[0]):
            perm1[i] = i
            perm2[i] = i

    @jit
    def finite(x):
        for c in range(x.shape[0]):
            if not (abs(x[c]) <= bound):
                return False
        return True

    return start, finite
