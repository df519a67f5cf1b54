"""What every toy model provides.

All methods take a point ``x`` of shape ``(d,)`` or a stack of points of shape
``(..., d)`` and work along the last axis, so the NumPy simulator evaluates a
whole chunk of paths in one call.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ..samplers import SAMPLERS, batch_factor, check_sampler


def expected_grad_outer(H, b, c, m1, m2):
    """E[grad L grad L^T] for grad L(x) = H x - b, from ``c = E 1``, ``m1 = E x``,
    ``m2 = E x x^T``: ``H m2 H - H m1 b^T - b m1^T H + c b b^T`` (H symmetric),
    vectorised over a leading axis: c (K,), m1 (K, d), m2 (K, d, d)."""
    Hm1 = m1 @ H
    return (
        H @ m2 @ H
        - Hm1[:, :, None] * b[None, None, :]
        - b[None, :, None] * Hm1[:, None, :]
        + c[:, None, None] * np.outer(b, b)
    )


class Model:
    """Base class of the toy losses.

    Subclasses set ``dim`` and implement ``loss``, ``grad``, ``sigma1`` (the
    one-sample noise covariance Sigma_1(x)) and ``noise_unit`` (a Gaussian draw
    with covariance Sigma_1(x) from ``noise_dim`` standard normals).
    """

    #: dimension d of x
    dim: int
    #: True for a finite data set of ``n_samples`` points, False for a population
    finite = False
    n_samples = None
    #: l_i(c x) = l_i(x) for c > 0 (Section 5 of the paper)
    scale_invariant = False
    #: first and second moments evolve by exact linear maps (``toylab.exact``)
    has_exact_moments = False

    # ---- what a subclass implements -------------------------------------
    def loss(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def grad(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def sigma1(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def noise_unit(self, x, z):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def noise_dim(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- what the compiled backends run (toylab._kernels.engine) ------------
    def kernel_data(self):  # pragma: no cover - abstract
        """The model's data for the compiled kernels: a named tuple of arrays and numbers."""
        raise NotImplementedError(f"{type(self).__name__} has no compiled form; use backend='numpy'")

    def kernel_functions(self):  # pragma: no cover - abstract
        """``(build, functions)``: ``build(jit, *functions)`` returns the namespace of
        compiled functions of the engine's model protocol (``grad``,
        ``batch_grad``, ``noise``, and ``record`` or ``loss`` with
        ``sigma1_trace``; ``toylab._kernels.engine``).
        Kernels are keyed by the code of ``build`` and ``functions``, so a
        subclass that keeps them runs the kernels of its parent."""
        raise NotImplementedError(f"{type(self).__name__} has no compiled form; use backend='numpy'")

    # ---- shared -----------------------------------------------------------
    @property
    def samplers(self):
        """The batch samplers this model supports."""
        return SAMPLERS if self.finite else ("with_replacement",)

    def check_point(self, x, name="x0"):
        """``x`` as a float array of shape (d,), refusing points the loss has no gradient at."""
        x = V.as_array(name, x, ndim=1, shape=(self.dim,))
        if self.scale_invariant and not np.any(x):
            raise ValueError(f"{name} must be nonzero: {type(self).__name__} is scale invariant and undefined at 0")
        return x

    def check_batch(self, batch_size, sampler, name="batch_size"):
        """Validate a (batch_size, sampler) pair against this model."""
        sampler = check_sampler(sampler)
        if sampler not in self.samplers:
            raise ValueError(
                f"sampler {sampler!r} needs a finite data set; {type(self).__name__} draws fresh samples "
                f"every step, which is sampling with replacement (use sampler='with_replacement')"
            )
        batch_size = V.integer(name, batch_size, minimum=1)
        if self.finite and sampler != "with_replacement" and batch_size > self.n_samples:
            raise ValueError(
                f"{name}={batch_size} exceeds the data set size n={self.n_samples}, "
                f"which sampler {sampler!r} (without replacement) cannot draw"
            )
        return batch_size, sampler

    def batch_factor(self, batch_size, sampler="with_replacement"):
        """f with Sigma_B = f Sigma_1: 1/B, or (n-B)/((n-1)B) without replacement."""
        return batch_factor(sampler, batch_size, self.n_samples if self.finite else None)

    def noise_cov(self, x, batch_size, sampler="with_replacement"):
        """Exact noise covariance of a batch gradient, Sigma_B(x) (Section 2).

        With replacement ``Sigma_B = (1/B)[(1/n) sum_i g_i g_i^T - grad L grad L^T]``;
        without replacement it carries the factor (n - B)/(n - 1).
        """
        batch_size, sampler = self.check_batch(batch_size, sampler)
        return self.batch_factor(batch_size, sampler) * self.sigma1(np.asarray(x, dtype=float))

    def noise(self, x, z, batch_size, sampler="with_replacement"):
        """A draw of N(0, Sigma_B(x)) from standard normals ``z`` of shape (..., noise_dim).

        No matrix square root is taken per step where the structure gives one
        (see each model's ``noise_unit``).
        """
        batch_size, sampler = self.check_batch(batch_size, sampler)
        return np.sqrt(self.batch_factor(batch_size, sampler)) * self.noise_unit(np.asarray(x, dtype=float), z)

    def sigma1_trace(self, x):
        """tr Sigma_1(x); subclasses override it with a form that never builds the matrix."""
        return np.trace(self.sigma1(x), axis1=-2, axis2=-1)

    def noise_trace(self, x, batch_size, sampler="with_replacement"):
        """tr Sigma_B(x), the observable ``"noise_trace"``."""
        batch_size, sampler = self.check_batch(batch_size, sampler)
        return self.batch_factor(batch_size, sampler) * self.sigma1_trace(np.asarray(x, dtype=float))

    def describe(self):
        """A JSON-able description (type and sizes) stored with results."""
        out = {"model": type(self).__name__, "dim": self.dim}
        if self.finite:
            out["n_samples"] = self.n_samples
            out["noise"] = self.noise_method
        return out

    def __repr__(self):
        fields = ", ".join(f"{k}={v}" for k, v in self.describe().items() if k not in ("model", "code"))
        return f"{type(self).__name__}({fields})"
