"""Finite data sets (A, y) whose per-sample gradients are linear in a feature of the
point: the part LinearRegression and SphereRegression share, the moment-factor noise."""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate as V
from .finite_sum import FiniteSum


class DataSetModel(FiniteSum):
    """A finite data set ``(A, y)`` of n points whose per-sample gradients are
    linear in a fixed feature of the point (LinearRegression, SphereRegression).

    A :class:`FiniteSum` with rows ``(a_i, y_i)``; beside the per-sample noise
    it can draw N(0, Sigma_1(x)) from the data's fourth moments, at most
    d(d+1)/2 + d normals a draw whatever n is (``noise="moments"``), for
    subclasses that give the decomposition below (``_moment_features``,
    ``_moment_point`` and, where it is not the identity, ``_moment_map``).
    The class attributes ``_sample_loss`` and ``_sample_grad`` are the
    per-sample functions of a row ``(a_i, y_i)``.
    """

    #: how a draw of N(0, Sigma_1(x)) is built (see ``noise_unit``)
    NOISE_METHODS = ("auto", "per_sample", "moments")
    #: cost of one standard normal in multiply-adds, for ``noise="auto"``
    _NORMAL_COST = 30
    #: largest number of moment features m for ``noise="auto"``
    _MAX_FEATURES = 1024
    _sample_loss = None
    _sample_grad = None
    #: the gradient is affine in x: exact moments (``toylab.exact``)
    _linear = False

    def __init__(self, A: ArrayLike, y: ArrayLike, noise: str = "auto") -> None:
        A = V.as_array("A", A, ndim=2)
        n, d = A.shape
        if n < 1 or d < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
        y = V.as_array("y", y, ndim=1, shape=(n,))
        super().__init__(np.column_stack([A, y]), self._sample_loss, self._sample_grad, dim=d, linear=self._linear)
        self.A = A
        self.y = y
        # the data's second moments: grad L is affine in them for LinearRegression,
        # and the moment features below are centred by H
        self.H = self.A.T @ self.A / n
        self.b = self.A.T @ self.y / n
        if not isinstance(noise, str) or noise not in self.NOISE_METHODS:
            raise ValueError(f"noise must be one of {self.NOISE_METHODS}, got {noise!r}")
        has_moments = type(self)._moment_features is not DataSetModel._moment_features
        if noise == "moments" and not has_moments:
            raise ValueError(f"noise='moments' needs the moment features of the model; {type(self).__name__} has none")
        if noise == "auto":
            noise = "moments" if has_moments and self._moments_cheaper() else "per_sample"
        #: ``"per_sample"`` or ``"moments"``: the construction of the noise draws
        self.noise_method = noise
        self._moment_factor = None

    @functools.cached_property
    def x_ref(self):
        """The least-squares point x_ls of the fit A z ~ y: reference point of the
        compiled kernels' records (the loss and tr Sigma_1, at z = x for
        LinearRegression and z = x/|x| for SphereRegression) and of
        LinearRegression's moment features, whose vector part is the residual
        there (zero when the data are interpolated, so the draw vanishes there
        to rounding).  Computed on first use."""
        return np.linalg.lstsq(self.A, self.y, rcond=None)[0]

    @functools.cached_property
    def _ref_residuals(self):
        """``(r, m)``: the residuals r_i(x_ref) = a_i.x_ref - y_i and m = (1/n) sum_j a_j r_j(x_ref)."""
        r = self.A @ self.x_ref - self.y
        return r, self.A.T @ r / self.n_samples

    # ---- the noise draw ----------------------------------------------------
    # Every per-sample gradient of these models is linear in a fixed feature
    # vector of its data point:  g_i(x) - grad L(x) = T(x)[S_i z(x) + s_i],
    # with S_i = a_i a_i^T - H (symmetric d x d), a vector s_i with mean zero,
    # z(x) a point and T(x) a linear map (the identity for LinearRegression).
    # So (1/sqrt(n)) sum_i z_i (g_i - grad L) is T(x)[W z(x) + w] with
    # (W, w) = (1/sqrt(n)) sum_i z_i (S_i, s_i), a Gaussian vector of
    # m = d(d+1)/2 + d entries whatever n is.  Its covariance, the feature
    # Gram matrix G = (1/n) sum_i (S_i, s_i)(S_i, s_i)^T, is fixed by the
    # data; with G = F F^T (r columns), (W, w) = F zeta for r standard
    # normals zeta has the same law.  A draw then costs r <= m normals and
    # r (d^2 + d) multiply-adds instead of n normals and about 3 n d (the
    # compiled kernels: r m + d^2, summing (W, w) over the upper triangles first).
    def _moment_features(self, rows):  # pragma: no cover - abstract
        """``(S, s)`` of the data points ``rows`` (a slice): S of shape (k, d, d), s of shape (k, d), as above."""
        raise NotImplementedError

    def _moments_cheaper(self):
        d, n = self.dim, self.n_samples
        m = d * (d + 1) // 2 + d
        cost_moments = m * (d * d + d + self._NORMAL_COST)
        cost_per_sample = n * (3 * d + self._NORMAL_COST)
        return m <= self._MAX_FEATURES and cost_moments < cost_per_sample

    def moment_factor(self):
        """``(S, s)`` with shapes (r, d, d) and (r, d): the columns of F (see above).

        Computed once, from the eigendecomposition of the feature Gram matrix
        G (accumulated over chunks of rows); eigenvalues below
        ``m * eps * max eigenvalue`` are rounding and are dropped, which
        changes the covariance by less than that.  At least one column is kept
        (zero where Sigma_1 vanishes identically).
        """
        if self._moment_factor is None:
            d, n = self.dim, self.n_samples
            iu = np.triu_indices(d)
            m = len(iu[0]) + d
            gram = np.zeros((m, m))
            for start in range(0, n, 4096):
                S, s = self._moment_features(slice(start, start + 4096))
                phi = np.concatenate([S[:, iu[0], iu[1]], s], axis=1)
                gram += phi.T @ phi
            gram /= n
            lam, vec = np.linalg.eigh(gram)
            keep = lam > max(lam[-1], 0.0) * m * np.finfo(float).eps
            if not np.any(keep):
                keep[-1] = True
                lam[-1] = 0.0
            F = vec[:, keep] * np.sqrt(lam[keep])
            S = np.zeros((F.shape[1], d, d))
            S[:, iu[0], iu[1]] = F[: len(iu[0])].T
            S[:, iu[1], iu[0]] = F[: len(iu[0])].T
            self._moment_factor = (S, np.ascontiguousarray(F[len(iu[0]) :].T))
        return self._moment_factor

    def _moment_point(self, x):  # pragma: no cover - abstract
        """z(x) of the decomposition above."""
        raise NotImplementedError

    def _moment_map(self, x, w):
        """T(x) applied to ``w``; the identity unless a subclass says otherwise."""
        return w

    @property
    def noise_dim(self):
        """Normals per draw: n per sample, or the rank r <= d(d+1)/2 + d of the moments."""
        if self.noise_method == "moments":
            return self.moment_factor()[0].shape[0]
        return self.n_samples

    def noise_unit(self, x, z):
        """A draw of N(0, Sigma_1(x)) from standard normals ``z`` (..., noise_dim).

        ``noise="per_sample"``: (1/sqrt(n)) sum_i z_i (g_i - grad L), whose
        covariance (1/n) sum_i (g_i - grad L)(g_i - grad L)^T is Sigma_1(x)
        exactly; O(n d).  ``noise="moments"``: T(x) sum_k z_k (S_k z(x) + s_k)
        with the factor of the feature Gram matrix (``moment_factor``), the
        same law; O(r d^2) with r <= d(d+1)/2 + d, independent of n.
        """
        x = np.asarray(x, dtype=float)
        if self.noise_method == "moments":
            S, s = self.moment_factor()
            # per column k first, then the sum over k: the order of the kernels
            cols = np.einsum("kij,...j->...ki", S, self._moment_point(x)) + s
            return self._moment_map(x, np.einsum("...k,...ki->...i", z, cols))
        return super().noise_unit(x, z)

