"""Models on a finite data set: linear regression and its scale-invariant twin."""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from ._base import expected_grad_outer
from .data_set import DataSetModel


# The per-sample functions of a row (a_i, y_i) = data[i], as every compiled
# backend runs them (toylab._kernels.finite_sum); the NumPy methods below are
# the same formulas over a whole chunk of paths.
@numba.njit
def linear_sample_loss(x, row):
    # l_i(x) = (a_i.x - y_i)^2 / 2
    d = x.shape[0]
    r = 0.0
    for c in range(d):
        r += row[c] * x[c]
    r -= row[d]
    return 0.5 * r * r


@numba.njit
def linear_sample_grad(x, row, out):
    # g_i(x) = a_i (a_i.x - y_i)
    d = x.shape[0]
    r = 0.0
    for c in range(d):
        r += row[c] * x[c]
    r -= row[d]
    for c in range(d):
        out[c] = row[c] * r


@numba.njit
def sphere_sample_loss(x, row):
    # l_i(x) = (a_i.u - y_i)^2 / 2, u = x/|x|
    d = x.shape[0]
    sq = 0.0
    au = 0.0
    for c in range(d):
        sq += x[c] * x[c]
        au += row[c] * x[c]
    r = au / np.sqrt(sq) - row[d]
    return 0.5 * r * r


@numba.njit
def sphere_sample_grad(x, row, out):
    # g_i(x) = r_i (a_i - (a_i.u) u) / |x|, r_i = a_i.u - y_i
    d = x.shape[0]
    sq = 0.0
    for c in range(d):
        sq += x[c] * x[c]
    inv_norm = 1.0 / np.sqrt(sq)
    au = 0.0
    for c in range(d):
        au += row[c] * (x[c] * inv_norm)
    r = au - row[d]
    for c in range(d):
        out[c] = r * (row[c] - au * (x[c] * inv_norm)) * inv_norm


class LinearRegression(DataSetModel):
    r"""Least squares on a finite data set, ``l_i(x) = (a_i^T x - y_i)^2 / 2``.

    ``L(x) = (1/2n) |A x - y|^2``, ``g_i(x) = a_i (a_i^T x - y_i)``, so the
    gradient is affine, ``grad L(x) = H x - b`` with ``H = A^T A / n`` and
    ``b = A^T y / n``, and Sigma_1(x) is quadratic in x: the moments of every
    algorithm evolve by exact linear maps (``toylab.exact``).

    Parameters
    ----------
    A : array, shape (n, d)
        Inputs a_i as rows.
    y : array, shape (n,)
        Targets.
    noise : {"auto", "per_sample", "moments"}
        How NGD and Euler-Maruyama draw N(0, Sigma_B(x)); both are exact
        (``noise_unit``).  ``"auto"`` takes ``"moments"`` (r <= d(d+1)/2 + d
        normals a draw) where it costs less than ``"per_sample"`` (n normals).
    """

    _sample_loss = staticmethod(linear_sample_loss)
    _sample_grad = staticmethod(linear_sample_grad)
    _linear = True

    def __init__(self, A: ArrayLike, y: ArrayLike, noise: str = "auto") -> None:
        super().__init__(A, y, noise)
        self.loss0 = float(self.y @ self.y) / (2 * self.n_samples)

    def _moment_features(self, rows):
        # g_i(x) - grad L(x) = (a_i a_i^T - H)(x - x_ref) + (a_i r_i(x_ref) - mean_j a_j r_j(x_ref))
        a = self.A[rows]
        S = a[:, :, None] * a[:, None, :] - self.H
        r_ref, mean = self._ref_residuals
        return S, a * r_ref[rows, None] - mean

    def _moment_point(self, x):
        return x - self.x_ref

    def loss(self, x):
        r = np.asarray(x, dtype=float) @ self.A.T - self.y
        return 0.5 * np.mean(r * r, axis=-1)

    def grad(self, x):
        return np.asarray(x, dtype=float) @ self.H - self.b

    def sample_grads(self, x, idx):
        a = self.A[idx]
        r = np.einsum("...bd,...d->...b", a, np.asarray(x, dtype=float)) - self.y[idx]
        return a * r[..., None]

    # ---- exact-moment structure (toylab.exact) ---------------------------
    def quadratic_form(self):
        """``(H, b, L(0))`` with ``L(x) = x^T H x / 2 - b^T x + L(0)``."""
        return self.H, self.b, self.loss0

    def expected_sigma1(self, c, m1, m2):
        """E[Sigma_1(x)] from ``c = E 1``, ``m1 = E x``, ``m2 = E x x^T`` (linear in them).

        Sigma_1(x) = (1/n) sum_i r_i^2 a_i a_i^T - grad L grad L^T with
        r_i = a_i^T x - y_i, and E r_i^2 = a_i^T m2 a_i - 2 y_i a_i^T m1 + y_i^2 c.
        Vectorised over a leading axis: c (K,), m1 (K, d), m2 (K, d, d).
        """
        A, y, H, b = self.A, self.y, self.H, self.b
        r2 = np.einsum("ni,kij,nj->kn", A, m2, A) - 2 * (m1 @ A.T) * y + c[:, None] * y * y
        second = np.einsum("kn,ni,nj->kij", r2, A, A) / self.n_samples
        return second - expected_grad_outer(H, b, c, m1, m2)

    def batch_affine(self, idx):
        """``(H_gamma, b_gamma)`` of a batch: grad L_gamma(x) = H_gamma x - b_gamma."""
        a = self.A[np.asarray(idx)]
        return a.T @ a / len(idx), a.T @ self.y[np.asarray(idx)] / len(idx)


class SphereRegression(DataSetModel):
    r"""The scale-invariant ``l_i(x) = (a_i^T x / |x| - y_i)^2 / 2`` (Section 5).

    With ``u = x/|x|`` and ``r_i = a_i^T u - y_i``,
    ``g_i(x) = r_i (a_i - (a_i^T u) u) / |x|``, so ``<g_i(x), x> = 0`` and
    ``l_i(c x) = l_i(x)`` for every c > 0.  With ``y = 0`` this is the quadratic
    on the sphere ``u^T (a_i a_i^T) u / 2``.  Undefined at x = 0.

    Parameters
    ----------
    A : array, shape (n, d)
        Inputs a_i as rows.
    y : array, shape (n,)
        Targets.
    noise : {"auto", "per_sample", "moments"}
        How NGD and Euler-Maruyama draw N(0, Sigma_B(x)), as for
        ``LinearRegression``.
    """

    scale_invariant = True
    _sample_loss = staticmethod(sphere_sample_loss)
    _sample_grad = staticmethod(sphere_sample_grad)

    def _moment_features(self, rows):
        # g_i(x) - grad L(x) = (1/|x|) P_u [(a_i a_i^T - H) u - (y_i a_i - b)], P_u = I - u u^T
        a = self.A[rows]
        return a[:, :, None] * a[:, None, :] - self.H, self.b - a * self.y[rows, None]

    def _moment_point(self, x):
        return self._unit(x)[0]

    def _moment_map(self, x, w):
        u, norm = self._unit(x)
        return (w - np.sum(u * w, axis=-1, keepdims=True) * u) / norm

    def _unit(self, x):
        x = np.asarray(x, dtype=float)
        norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
        return x / norm, norm

    def loss(self, x):
        u, _ = self._unit(x)
        r = u @ self.A.T - self.y
        return 0.5 * np.mean(r * r, axis=-1)

    def grad(self, x):
        # L(x) = u^T H u / 2 - b.u + |y|^2 / 2n with u = x/|x|, so
        # grad L = P_u (H u - b) / |x|: O(d^2), not a sum over the n samples
        u, norm = self._unit(x)
        g = u @ self.H - self.b
        return (g - np.sum(u * g, axis=-1, keepdims=True) * u) / norm

    def sample_grads(self, x, idx):
        u, norm = self._unit(x)
        a = self.A[idx]
        au = np.einsum("...bd,...d->...b", a, u)
        r = au - self.y[idx]
        return r[..., None] * (a - au[..., None] * u[..., None, :]) / norm[..., None]
