"""Models with an infinite population: fresh samples every step."""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ._base import Model


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

    def __init__(self, h, x_star, sigma):
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

    def __init__(self, H, C):
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
