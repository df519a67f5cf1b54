"""Exhaustive enumeration of batches: exact expectations with no formula in between.

A batch drawn with replacement is one of the n^B ordered tuples, each with
probability n^-B; without replacement it is one of the C(n, B) subsets, each
with probability 1/C(n, B).  Two independent batches (SVAG) are every pair.
"""

from itertools import combinations, product

import numpy as np


def batches(n, B, sampler):
    """All equally likely batches, as an int array of shape (K, B)."""
    if sampler == "with_replacement":
        return np.array(list(product(range(n), repeat=B)), dtype=np.int64)
    if sampler in ("without_replacement", "reshuffle"):
        return np.array(list(combinations(range(n), B)), dtype=np.int64)
    raise ValueError(sampler)


def batch_grads(model, x, B, sampler):
    """grad L_gamma(x) for every batch gamma: shape (K, d), all equally likely."""
    return np.array([model.batch_grad(x, idx) for idx in batches(model.n_samples, B, sampler)])


def svag_increments(model, x, lr, B, l, wd, sampler):
    """The SVAG increment Delta for every pair (gamma_1, gamma_2): shape (K*K, d), equally likely.

    ``Delta = -(lr/l)(c1 grad L_gamma1 + c2 grad L_gamma2 + wd x)`` (eq. 5), with
    c1,2 = (1 +- sqrt(2l - 1))/2; ``l = 1`` is SGD's increment (c2 = 0).
    """
    g = batch_grads(model, x, B, sampler)
    root = np.sqrt(2.0 * l - 1.0)
    c1, c2 = 0.5 * (1 + root), 0.5 * (1 - root)
    combined = c1 * g[:, None, :] + c2 * g[None, :, :]
    return (-(lr / l) * (combined + wd * x)).reshape(-1, model.dim)


def sgd_increments(model, x, lr, B, wd, sampler):
    """The SGD increment for every batch: shape (K, d), equally likely (eq. 1)."""
    return -lr * (batch_grads(model, x, B, sampler) + wd * x)


def moment(samples, order):
    """E X^{(x) order} over equally likely samples (rows)."""
    subscripts = "abcd"[:order]
    expr = ",".join("n" + s for s in subscripts) + "->" + subscripts
    return np.einsum(expr, *([samples] * order)) / len(samples)


def central_moment(samples, order):
    return moment(samples - samples.mean(axis=0), order)


def _all_batch_grads(model, X, B, sampler):
    """grad L_gamma at each row of X for every batch: shape (M, K, d)."""
    idx = batches(model.n_samples, B, sampler)
    M, K = len(X), len(idx)
    Xb = np.broadcast_to(X[:, None, :], (M, K, X.shape[1]))
    return model.batch_grad(Xb, np.broadcast_to(idx, (M, K, idx.shape[1])))


def sgd_states(model, x0, lr, B, wd, sampler, steps):
    """Every equally likely state of SGD after 1..steps steps from x0 (a list of (M_k, d) arrays)."""
    X, out = np.asarray(x0, dtype=float)[None, :], []
    for _ in range(steps):
        g = _all_batch_grads(model, X, B, sampler)
        X = (X[:, None, :] - lr * (g + wd * X[:, None, :])).reshape(-1, X.shape[1])
        out.append(X)
    return out


def svag_states(model, x0, lr, B, l, wd, sampler, steps):
    """Every equally likely state of SVAG(l) after 1..steps steps (both batches enumerated)."""
    root = np.sqrt(2.0 * l - 1.0)
    c1, c2 = 0.5 * (1 + root), 0.5 * (1 - root)
    X, out = np.asarray(x0, dtype=float)[None, :], []
    for _ in range(steps):
        g = _all_batch_grads(model, X, B, sampler)
        combined = c1 * g[:, :, None, :] + c2 * g[:, None, :, :]
        X = (X[:, None, None, :] - (lr / l) * (combined + wd * X[:, None, None, :])).reshape(-1, X.shape[1])
        out.append(X)
    return out
