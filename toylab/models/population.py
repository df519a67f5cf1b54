"""Models with an infinite population: fresh samples every step."""

from __future__ import annotations

import math
from collections import namedtuple
from types import SimpleNamespace

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as V
from .._kernels import rng as R
from ._base import Model

#: The compiled kernels' view of a GaussianLinearRegression.
GaussianData = namedtuple("GaussianData", ["h", "x_star", "sqrt_h", "sigma", "trace_h"])
#: The compiled kernels' view of a NoisyQuadratic.
QuadraticData = namedtuple("QuadraticData", ["H", "C_sqrt", "trace_C"])


def build_gaussian(jit):
    """GaussianLinearRegression's compiled functions (``toylab._kernels.engine``)."""
    next_normal = R.build(jit, math).next_normal
    sqrt = math.sqrt
    kind_noise = np.uint64(R.KIND_NOISE)
    kind1, kind2 = np.uint64(R.KIND_BATCH1), np.uint64(R.KIND_BATCH2)

    @jit
    def loss(x, data):
        s = 0.0
        for c in range(x.shape[0]):
            r = x[c] - data.x_star[c]
            s += data.h[c] * r * r
        return 0.5 * s + 0.5 * data.sigma * data.sigma

    @jit
    def grad(x, data, t, out):
        for c in range(x.shape[0]):
            out[c] = data.h[c] * (x[c] - data.x_star[c])

    @jit
    def batch_grad(x, data, B, sampler, which, k, path, seed, perm, buf, cur, t, out):
        # sample b: a = sqrt(h) z_{b(d+1) + c}, eps = z_{b(d+1) + d};
        # g = a (a.(x - x*) - sigma eps), from the stream (k, KIND_BATCH)
        d = x.shape[0]
        kind = kind1 if which == 0 else kind2
        for c in range(d):
            out[c] = 0.0
        j = 0
        carry = 0.0
        for b in range(B):
            resid = 0.0
            for c in range(d + 1):
                z, carry = next_normal(seed, path, k, kind, j, carry)
                j += 1
                if c < d:
                    t[c] = data.sqrt_h[c] * z
                    resid += t[c] * (x[c] - data.x_star[c])
                else:
                    resid -= data.sigma * z
            for c in range(d):
                out[c] += t[c] * resid
        for c in range(d):
            out[c] = out[c] / B

    @jit
    def noise(x, data, k, path, seed, t, t2, out):
        # sqrt(r^T H r + sigma^2) sqrt(h) z_{1..d} + (H r) z_{d+1}
        d = x.shape[0]
        rhr = 0.0
        for c in range(d):
            r = x[c] - data.x_star[c]
            rhr += r * data.h[c] * r
        scale = sqrt(rhr + data.sigma * data.sigma)
        carry = 0.0
        for c in range(d):
            z, carry = next_normal(seed, path, k, kind_noise, c, carry)
            out[c] = scale * data.sqrt_h[c] * z
        zl, carry = next_normal(seed, path, k, kind_noise, d, carry)
        for c in range(d):
            out[c] += data.h[c] * (x[c] - data.x_star[c]) * zl

    @jit
    def sigma1_trace(x, data, t, t2):
        # (r^T H r + sigma^2) tr H + |H r|^2
        rhr = 0.0
        hr2 = 0.0
        for c in range(x.shape[0]):
            r = x[c] - data.x_star[c]
            rhr += r * data.h[c] * r
            hr2 += (data.h[c] * r) * (data.h[c] * r)
        return (rhr + data.sigma * data.sigma) * data.trace_h + hr2

    return SimpleNamespace(loss=loss, grad=grad, batch_grad=batch_grad, noise=noise, sigma1_trace=sigma1_trace)


def build_quadratic(jit):
    """NoisyQuadratic's compiled functions (``toylab._kernels.engine``)."""
    next_normal = R.build(jit, math).next_normal
    sqrt = math.sqrt
    kind_noise = np.uint64(R.KIND_NOISE)
    kind1, kind2 = np.uint64(R.KIND_BATCH1), np.uint64(R.KIND_BATCH2)

    @jit
    def loss(x, data):
        d = x.shape[0]
        s = 0.0
        for i in range(d):
            for j in range(d):
                s += x[i] * data.H[i, j] * x[j]
        return 0.5 * s

    @jit
    def grad(x, data, t, out):
        d = x.shape[0]
        for c in range(d):
            s = 0.0
            for k in range(d):
                s += x[k] * data.H[k, c]
            out[c] = s

    @jit
    def correlated(data, k, path, seed, kind, out):
        # out = z @ C^{1/2} for d fresh normals z
        d = out.shape[0]
        for c in range(d):
            out[c] = 0.0
        carry = 0.0
        for j in range(d):
            z, carry = next_normal(seed, path, k, kind, j, carry)
            for c in range(d):
                out[c] += z * data.C_sqrt[j, c]

    @jit
    def batch_grad(x, data, B, sampler, which, k, path, seed, perm, buf, cur, t, out):
        # H x + (mean of B draws of N(0, C)) = H x + z C^{1/2} / sqrt(B): d normals
        correlated(data, k, path, seed, kind1 if which == 0 else kind2, t)
        grad(x, data, t, out)
        root = sqrt(B)
        for c in range(x.shape[0]):
            out[c] = out[c] + t[c] / root

    @jit
    def noise(x, data, k, path, seed, t, t2, out):
        correlated(data, k, path, seed, kind_noise, out)

    @jit
    def sigma1_trace(x, data, t, t2):
        return data.trace_C

    return SimpleNamespace(loss=loss, grad=grad, batch_grad=batch_grad, noise=noise, sigma1_trace=sigma1_trace)


class GaussianLinearRegression(Model):
    r"""Online least squares: ``a ~ N(0, diag h)``, ``y = a^T x* + sigma eps``.

    With ``H = diag(h)`` and ``r = x - x*``:
    ``L(x) = r^T H r / 2 + sigma^2 / 2``, ``grad L = H r`` and, by Isserlis'
    theorem, the exact one-sample noise covariance

        Sigma_1(x) = (r^T H r + sigma^2) H + H r r^T H,

    so ``Sigma_B = Sigma_1 / B`` (samples are always fresh: with replacement).

    Parameters
    ----------
    h : array, shape (d,)
        Variances of the input coordinates, each >= 0.
    x_star : array, shape (d,)
        The teacher.
    sigma : float
        Label noise standard deviation, >= 0.
    """

    has_exact_moments = True

    def __init__(self, h: ArrayLike, x_star: ArrayLike, sigma: float) -> None:
        h = V.as_array("h", h, ndim=1)
        if h.size < 1:
            raise ValueError("h must have at least one entry")
        if np.any(h < 0):
            raise ValueError("h must be >= 0 (variances of the inputs)")
        self.h = h
        self.dim = h.size
        self.x_star = V.as_array("x_star", x_star, ndim=1, shape=(self.dim,))
        self.sigma = V.real("sigma", sigma, nonnegative=True)
        self.H = np.diag(h)

    def loss(self, x):
        r = np.asarray(x, dtype=float) - self.x_star
        return 0.5 * np.sum(self.h * r * r, axis=-1) + 0.5 * self.sigma**2

    def grad(self, x):
        return self.h * (np.asarray(x, dtype=float) - self.x_star)

    def sigma1(self, x):
        r = np.asarray(x, dtype=float) - self.x_star
        hr = self.h * r
        scale = np.sum(r * hr, axis=-1) + self.sigma**2
        return scale[..., None, None] * self.H + hr[..., :, None] * hr[..., None, :]

    def sigma1_trace(self, x):
        r = np.asarray(x, dtype=float) - self.x_star
        hr = self.h * r
        return (np.sum(r * hr, axis=-1) + self.sigma**2) * np.sum(self.h) + np.sum(hr * hr, axis=-1)

    @property
    def noise_dim(self):
        return self.dim + 1

    def noise_unit(self, x, z):
        # sqrt(r^T H r + sigma^2) sqrt(h) * z_{1..d} + (H r) z_{d+1}: covariance
        # (r^T H r + sigma^2) H + H r r^T H = Sigma_1(x), with no matrix root.
        r = np.asarray(x, dtype=float) - self.x_star
        hr = self.h * r
        scale = np.sqrt(np.sum(r * hr, axis=-1) + self.sigma**2)
        return scale[..., None] * np.sqrt(self.h) * z[..., : self.dim] + hr * z[..., self.dim : self.dim + 1]

    def grad_normals(self, batch_size):
        """Standard normals one batch gradient needs: B inputs of d plus B label noises."""
        return batch_size * (self.dim + 1)

    def per_sample_grads(self, x, a, eps):
        """g(x; a, y) = a (a^T x - y) for samples ``a`` (..., B, d) with y = a^T x* + sigma eps."""
        x = np.asarray(x, dtype=float)
        resid = np.einsum("...bd,...d->...b", a, x - self.x_star) - self.sigma * eps
        return a * resid[..., None]

    def sampled_batch_grad(self, x, z, batch_size):
        """A batch gradient from fresh samples built out of standard normals ``z``."""
        z = z.reshape(z.shape[:-1] + (batch_size, self.dim + 1))
        a = np.sqrt(self.h) * z[..., : self.dim]
        return self.per_sample_grads(x, a, z[..., self.dim]).mean(axis=-2)

    def quadratic_form(self):
        """``(H, b, L(0))`` with ``L(x) = x^T H x / 2 - b^T x + L(0)``."""
        hx = self.h * self.x_star
        return self.H, hx, 0.5 * float(self.x_star @ hx) + 0.5 * self.sigma**2

    def expected_sigma1(self, c, m1, m2):
        """E[Sigma_1(x)] = (tr(H R) + sigma^2 c) H + H R H with R = E r r^T."""
        xs = self.x_star
        R = (
            m2
            - m1[:, :, None] * xs[None, None, :]
            - xs[None, :, None] * m1[:, None, :]
            + c[:, None, None] * np.outer(xs, xs)
        )
        scale = np.einsum("i,kii->k", self.h, R) + self.sigma**2 * c
        return scale[:, None, None] * self.H + self.h[:, None] * R * self.h[None, :]

    def describe(self):
        return {**super().describe(), "sigma": self.sigma}

    def kernel_data(self):
        return GaussianData(self.h, self.x_star, np.sqrt(self.h), float(self.sigma), float(self.h.sum()))

    def kernel_functions(self):
        return build_gaussian, ()


class NoisyQuadratic(Model):
    r"""``L(x) = x^T H x / 2`` with additive Gaussian gradient noise (Liu, Ziyin & Ueda).

    One sample's gradient is ``H x + xi`` with ``xi ~ N(0, C)``, so
    ``Sigma_1 = C`` and a batch of B has ``Sigma_B = C / B`` whatever x.

    Parameters
    ----------
    H : array, shape (d, d)
        Symmetric Hessian.
    C : array, shape (d, d)
        Symmetric positive semi-definite one-sample noise covariance.
    """

    has_exact_moments = True

    def __init__(self, H: ArrayLike, C: ArrayLike) -> None:
        self.H = V.symmetric("H", H)
        self.dim = self.H.shape[0]
        self.C = V.symmetric("C", C, dim=self.dim)
        w, U = np.linalg.eigh(self.C)
        if w.min() < -1e-10 * max(1.0, abs(w).max()):
            raise ValueError(f"C must be positive semi-definite, its smallest eigenvalue is {w.min():.3g}")
        # A fixed square root of the constant C, taken once.
        self.C_sqrt = (U * np.sqrt(np.clip(w, 0, None))) @ U.T

    def loss(self, x):
        x = np.asarray(x, dtype=float)
        return 0.5 * np.einsum("...i,ij,...j->...", x, self.H, x)

    def grad(self, x):
        return np.asarray(x, dtype=float) @ self.H

    def sigma1(self, x):
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(self.C, x.shape[:-1] + self.C.shape).copy()

    def sigma1_trace(self, x):
        return np.full(np.shape(x)[:-1], np.trace(self.C))

    @property
    def noise_dim(self):
        return self.dim

    def noise_unit(self, x, z):
        return z @ self.C_sqrt

    def grad_normals(self, batch_size):
        # The mean of B i.i.d. N(0, C) is N(0, C/B): d normals draw it exactly.
        return self.dim

    def sampled_batch_grad(self, x, z, batch_size):
        return self.grad(x) + z @ self.C_sqrt / np.sqrt(batch_size)

    def quadratic_form(self):
        return self.H, np.zeros(self.dim), 0.0

    def expected_sigma1(self, c, m1, m2):
        return c[:, None, None] * self.C

    def kernel_data(self):
        return QuadraticData(self.H, self.C_sqrt, float(np.trace(self.C)))

    def kernel_functions(self):
        return build_quadratic, ()
