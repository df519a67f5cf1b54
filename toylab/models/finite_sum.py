"""A user's own finite-sum model: two per-sample functions and a data array."""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections import namedtuple

import numba
import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as V
from .._kernels import finite_sum as _compiled_finite_sum
from .._kernels.cache import code_hash
from ._base import Model, expected_grad_outer

#: The compiled kernels' view of a finite data set: its rows, one sample each.
FiniteSumData = namedtuple("FiniteSumData", ["rows"])


def _jitted(fn):
    """``fn`` as a CPU-compiled function: itself if it is one, else ``numba.njit(fn)``."""
    return fn if isinstance(fn, numba.core.dispatcher.Dispatcher) else numba.njit(fn)


def _python(fn):
    """The plain Python function behind ``fn`` (a numba dispatcher or a function)."""
    return getattr(fn, "py_func", fn)


@numba.njit
def _mean_losses(loss, X, rows, out):
    # out[p] = (1/n) sum_i loss(X[p], rows[i])
    n = rows.shape[0]
    for p in range(X.shape[0]):
        s = 0.0
        for i in range(n):
            s += loss(X[p], rows[i])
        out[p] = s / n


@numba.njit
def _sample_grads(grad, X, rows, idx, out):
    # out[p, b] = g_{idx[p, b]}(X[p])
    for p in range(X.shape[0]):
        for b in range(idx.shape[1]):
            grad(X[p], rows[idx[p, b]], out[p, b])


class FiniteSum(Model):
    r"""A finite data set of n rows and per-sample losses ``l_i(x) = loss(x, data[i])``.

    ``L(x) = (1/n) sum_i l_i(x)`` with gradient ``(1/n) sum_i g_i(x)``; a batch
    of size B drawn by any sampler has gradient ``(1/B) sum_{i in batch} g_i``
    and, with replacement, the exact noise covariance

        Sigma_B(x) = (1/B) [ (1/n) sum_i g_i g_i^T - grad L grad L^T ]

    (Section 2; without replacement times (n - B)/(n - 1)).  Gaussian draws of
    it take n normals and no matrix square root:
    ``(1/sqrt(n)) sum_i z_i (g_i - grad L)`` has covariance Sigma_1(x) exactly.
    Every algorithm runs on such a model on every backend.

    Parameters
    ----------
    data : array, shape (n, k)
        One row per sample; what a row holds (inputs, a target, weights) is up
        to ``loss`` and ``grad``.
    loss : function ``loss(x, row) -> float``
        The loss of one sample at x (shape (dim,)).
    grad : function ``grad(x, row, out)``
        Writes that sample's gradient (length dim) into ``out``.
    dim : int
        The dimension d of x.
    linear : bool, keyword
        Declare every per-sample gradient affine in x, ``g_i(x) = G_i x + c_i``
        (a quadratic loss): ``toylab.exact`` then computes exact moments,
        reading G_i and c_i off the gradients at 0 and at the unit vectors.

    ``loss`` and ``grad`` are written in the Numba subset (loops and
    arithmetic, no allocation), as ``numba.njit`` functions or plain Python
    functions, so that they compile for the CPU and the GPU.  Compiled kernels
    are keyed by their code and cached on disk: a model runs at compiled speed
    from its second use on a machine.

    Examples
    --------
    A double well with a per-sample tilt::

        @numba.njit
        def loss(x, row):
            u = x[0] * x[0] - 1.0 + row[0] * x[0]
            return 0.5 * u * u

        @numba.njit
        def grad(x, row, out):
            u = x[0] * x[0] - 1.0 + row[0] * x[0]
            out[0] = u * (2.0 * x[0] + row[0])

        model = FiniteSum(data, loss, grad, dim=1)
    """

    finite = True
    #: how NoiseDraws are made: one normal per sample
    noise_method = "per_sample"

    def __init__(self, data: ArrayLike, loss: Callable, grad: Callable, dim: int, *, linear: bool = False) -> None:
        data = V.as_array("data", data, ndim=2)
        if data.shape[0] < 1:
            raise ValueError(f"data must have at least one row (one sample), got shape {data.shape}")
        for name, fn in (("loss", loss), ("grad", grad)):
            if not callable(fn):
                raise TypeError(f"{name} must be a function ({name}(x, row){'' if name == 'loss' else ', out'}), "
                                f"got {type(fn).__name__}")
        self.data = np.ascontiguousarray(data)
        self.dim = V.integer("dim", dim, minimum=1)
        self.n_samples = data.shape[0]
        self.sample_loss = loss
        self.sample_grad = grad
        self.has_exact_moments = bool(linear)
        self._check_functions()

    def _check_functions(self):
        # one call of each, in Python (no compilation): a wrong signature or
        # output gets a message naming the function, not a numba traceback
        x = np.ones(self.dim)
        row = self.data[0]
        try:
            value = _python(self.sample_loss)(x, row)
            float(value)
        except Exception as exc:
            raise TypeError(
                f"loss(x, row) must return a float for x of shape ({self.dim},) and a row of data; "
                f"at x = ones({self.dim}), row = data[0] it raised {type(exc).__name__}: {exc}"
            ) from None
        out = np.full(self.dim, np.nan)
        try:
            _python(self.sample_grad)(x, row, out)
        except Exception as exc:
            raise TypeError(
                f"grad(x, row, out) must write the gradient (length {self.dim}) into out; "
                f"at x = ones({self.dim}), row = data[0] it raised {type(exc).__name__}: {exc}"
            ) from None
        if np.isnan(out).all():
            raise ValueError("grad(x, row, out) wrote nothing into out: it must write the sample's gradient there")

    # ---- the per-sample functions, compiled for Python-side use ---------------
    @functools.cached_property
    def _cpu_functions(self):
        return _jitted(self.sample_loss), _jitted(self.sample_grad)

    def _points(self, x):
        x = np.asarray(x, dtype=float)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"x must have last axis of length {self.dim}, got shape {x.shape}")
        return x, np.ascontiguousarray(x.reshape(-1, self.dim))

    def loss(self, x):
        x, X = self._points(x)
        out = np.empty(len(X))
        _mean_losses(self._cpu_functions[0], X, self.data, out)
        return out.reshape(x.shape[:-1]) if x.ndim > 1 else float(out[0])

    def sample_grads(self, x, idx):
        """Gradients of l_i at x for the indices ``idx`` of shape (..., B): (..., B, d)."""
        x, X = self._points(x)
        idx = np.asarray(idx, dtype=np.int64)
        idx = np.ascontiguousarray(np.broadcast_to(idx, x.shape[:-1] + idx.shape[-1:]).reshape(len(X), -1))
        out = np.empty(idx.shape + (self.dim,))
        _sample_grads(self._cpu_functions[1], X, self.data, idx, out)
        return out.reshape(x.shape[:-1] + out.shape[1:])

    def per_sample_grads(self, x):
        """All n per-sample gradients g_i(x), shape (..., n, d)."""
        return self.sample_grads(x, np.arange(self.n_samples))

    def batch_grad(self, x, idx):
        """The batch gradient grad L_gamma(x) = (1/B) sum_{i in gamma} g_i(x)."""
        return self.sample_grads(x, idx).mean(axis=-2)

    def grad(self, x):
        return self.per_sample_grads(x).mean(axis=-2)

    def sigma1(self, x):
        g = self.per_sample_grads(x)
        mean = g.mean(axis=-2)
        second = np.einsum("...ni,...nj->...ij", g, g) / self.n_samples
        return second - mean[..., :, None] * mean[..., None, :]

    def sigma1_trace(self, x):
        # tr Sigma_1 = (1/n) sum_i |g_i|^2 - |grad L|^2, without the d x d matrix.
        g = self.per_sample_grads(x)
        mean = g.mean(axis=-2)
        return np.mean(np.sum(g * g, axis=-1), axis=-1) - np.sum(mean * mean, axis=-1)

    @property
    def noise_dim(self):
        """Normals per draw of N(0, Sigma_1(x)): one per sample."""
        return self.n_samples

    def noise_unit(self, x, z):
        """``(1/sqrt(n)) sum_i z_i (g_i - grad L)``: covariance Sigma_1(x) exactly, O(n d)."""
        g = self.per_sample_grads(x)
        centred = g - g.mean(axis=-2, keepdims=True)
        return np.einsum("...n,...nd->...d", z, centred) / np.sqrt(self.n_samples)

    # ---- the compiled kernels' view ------------------------------------------------
    def kernel_data(self):
        return FiniteSumData(self.data)

    def kernel_functions(self):
        return _compiled_finite_sum.build, (self.sample_loss, self.sample_grad)

    def describe(self):
        out = super().describe()
        out["code"] = code_hash(self.sample_loss, self.sample_grad)
        return out

    # ---- exact moments, for a model declared linear -----------------------------
    @functools.cached_property
    def _affine_parts(self):
        """``(G, c)`` with g_i(x) = G_i x + c_i: (n, d, d) and (n, d), read off the
        gradients at 0 and at the unit vectors (exact for affine gradients)."""
        d = self.dim
        points = np.vstack([np.zeros(d), np.eye(d)])
        g = self.per_sample_grads(points)  # (d + 1, n, d)
        c = g[0]
        G = np.transpose(g[1:] - c[None], (1, 2, 0))  # G[i, :, j] = g_i(e_j) - g_i(0)
        return G, c

    def _check_linear(self):
        if not self.has_exact_moments:
            raise ValueError(
                "this FiniteSum model has no exact moments: declare FiniteSum(..., linear=True) "
                "where every per-sample gradient is affine in x"
            )

    def quadratic_form(self):
        """``(H, b, L(0))`` with ``L(x) = x^T H x / 2 - b^T x + L(0)``."""
        self._check_linear()
        G, c = self._affine_parts
        H = G.mean(axis=0)
        return 0.5 * (H + H.T), -c.mean(axis=0), float(self.loss(np.zeros(self.dim)))

    def expected_sigma1(self, c, m1, m2):
        """E[Sigma_1(x)] from ``c = E 1``, ``m1 = E x``, ``m2 = E x x^T`` (K of each).

        With g_i = G_i x + c_i: E g_i g_i^T = G_i m2 G_i^T + G_i m1 c_i^T +
        c_i m1^T G_i^T + c c_i c_i^T, and grad L = H x - b likewise.
        """
        self._check_linear()
        G, ci = self._affine_parts
        H, b, _ = self.quadratic_form()
        n = self.n_samples
        second = np.einsum("nij,kjl,nml->kim", G, m2, G) / n
        Gm = np.einsum("nij,kj->kni", G, m1)
        cross = np.einsum("kni,nj->kij", Gm, ci) / n
        second = second + cross + np.transpose(cross, (0, 2, 1)) + c[:, None, None] * (ci.T @ ci / n)
        return second - expected_grad_outer(H, b, c, m1, m2)

    def batch_affine(self, idx):
        """``(H_gamma, b_gamma)`` of a batch: grad L_gamma(x) = H_gamma x - b_gamma."""
        self._check_linear()
        G, c = self._affine_parts
        idx = np.asarray(idx)
        return G[idx].mean(axis=0), -c[idx].mean(axis=0)
