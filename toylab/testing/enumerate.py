"""Exhaustive enumeration of batches: exact expectations with no formula in between.

A batch drawn with replacement is one of the n^B ordered tuples, each with
probability n^-B; without replacement it is one of the C(n, B) subsets, each
with probability 1/C(n, B) (random reshuffling draws its first batch of an
epoch the same way).  Two independent batches (SVAG) are every pair.
"""

from __future__ import annotations

from itertools import combinations, product

import numpy as np

__all__ = [
    "one_step_distribution",
    "batches",
    "batch_grads",
    "sgd_increments",
    "svag_increments",
    "sgd_states",
    "svag_states",
    "moment",
    "central_moment",
]


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


def one_step_distribution(model, algorithm, x, velocity=None):
    """Every possible next state of ``algorithm`` from ``x`` with its probability, exactly.

    Enumerates the batches of a tiny data set: every batch of SGD (each of
    the n^B ordered draws with replacement, each B-subset without
    replacement or at the start of a reshuffled epoch), every pair of
    batches of SVAG (eq. 5), the single step of GD.  States reached by
    several batches are merged and their probabilities added.

    Parameters
    ----------
    model : a finite model (LinearRegression, SphereRegression, FiniteSum)
    algorithm : SGD (with or without momentum), SVAG or GD; NGD and
        Euler-Maruyama draw Gaussian noise and have no finite distribution
    x : (d,) the current point
    velocity : (d,) heavy ball's b before the step (default 0); with momentum
        the states are (x', b') of length 2 d

    Returns
    -------
    states : (K, d) or (K, 2 d) array, distinct rows
    probabilities : (K,) array summing to 1

    Examples
    --------
    >>> import numpy as np
    >>> from toylab import LinearRegression, SGD
    >>> model = LinearRegression(np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
    >>> states, p = one_step_distribution(model, SGD(0.1, 1), np.array([1.0]))
    >>> states.ravel().tolist(), p.tolist()
    ([0.8, 0.9], [0.5, 0.5])
    """
    from ..algorithms import GD, SGD, SVAG

    if not getattr(model, "finite", False):
        raise TypeError(f"model must be a finite data set to enumerate its batches, got {type(model).__name__}")
    x = model.check_point(x, "x")
    d, n = model.dim, model.n_samples
    wd = algorithm.weight_decay
    if isinstance(algorithm, GD):
        return (x - algorithm.lr * (model.grad(x) + wd * x))[None, :], np.ones(1)
    if not isinstance(algorithm, (SGD, SVAG)):
        raise TypeError(
            f"algorithm must be SGD, SVAG or GD, got {type(algorithm).__name__}: its Gaussian noise has no "
            "finite distribution to enumerate"
        )
    B = algorithm.batch_size
    model.check_batch(B, algorithm.sampler, name="algorithm.batch_size")
    count = (n**B if algorithm.sampler == "with_replacement" else len(list(combinations(range(n), B))))
    if count * (count if isinstance(algorithm, SVAG) else 1) > 1_000_000:
        raise ValueError(f"{count} batches of a data set of {n} points: too many to enumerate; use a tiny data set")
    g = batch_grads(model, x, B, algorithm.sampler)
    if isinstance(algorithm, SVAG):
        root = np.sqrt(2.0 * algorithm.l - 1.0)
        c1, c2 = 0.5 * (1 + root), 0.5 * (1 - root)
        g = (c1 * g[:, None, :] + c2 * g[None, :, :]).reshape(-1, d)
        states = x - algorithm.step_time * (g + wd * x)
    elif getattr(algorithm, "momentum", 0.0):
        b = np.zeros(d) if velocity is None else model.check_point(velocity, "velocity")
        b_next = algorithm.momentum * b + g + wd * x
        states = np.concatenate([x - algorithm.lr * b_next, b_next], axis=1)
    else:
        states = x - algorithm.lr * (g + wd * x)
    unique, inverse = np.unique(states, axis=0, return_inverse=True)
    probabilities = np.bincount(inverse.ravel(), minlength=len(unique)) / len(states)
    return unique, probabilities
