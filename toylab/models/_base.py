"""What every toy model provides, and the parts common to finite data sets.

All methods take a point ``x`` of shape ``(d,)`` or a stack of points of shape
``(..., d)`` and work along the last axis, so the NumPy simulator evaluates a
whole chunk of paths in one call.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _validate as V
from ..samplers import SAMPLERS, batch_factor, check_sampler


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
        fields = ", ".join(f"{k}={v}" for k, v in self.describe().items() if k != "model")
        return f"{type(self).__name__}({fields})"


class DataSetModel(Model):
    """A finite data set ``(A, y)`` of n points; per-sample losses l_i(x)."""

    finite = True

    #: how a draw of N(0, Sigma_1(x)) is built (see ``noise_unit``)
    NOISE_METHODS = ("auto", "per_sample", "moments")
    #: cost of one standard normal in multiply-adds, for ``noise="auto"``
    _NORMAL_COST = 30
    #: largest number of moment features m for ``noise="auto"``
    _MAX_FEATURES = 1024

    def __init__(self, A, y, noise="auto"):
        A = V.as_array("A", A, ndim=2)
        n, d = A.shape
        if n < 1 or d < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
        self.A = A
        self.y = V.as_array("y", y, ndim=1, shape=(n,))
        self.dim = d
        self.n_samples = n
        # the data's second moments: grad L is affine in them for LinearRegression,
        # and the moment features below are centred by H
        self.H = self.A.T @ self.A / n
        self.b = self.A.T @ self.y / n
        if not isinstance(noise, str) or noise not in self.NOISE_METHODS:
            raise ValueError(f"noise must be one of {self.NOISE_METHODS}, got {noise!r}")
        if noise == "auto":
            noise = "moments" if self._moments_cheaper() else "per_sample"
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

    def sample_grads(self, x, idx):  # pragma: no cover - abstract
        """Gradients of l_i at x for the indices ``idx`` of shape (..., B): (..., B, d)."""
        raise NotImplementedError

    def per_sample_grads(self, x):
        """All n per-sample gradients g_i(x), shape (..., n, d)."""
        x = np.asarray(x, dtype=float)
        idx = np.broadcast_to(np.arange(self.n_samples), x.shape[:-1] + (self.n_samples,))
        return self.sample_grads(x, idx)

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
        g = self.per_sample_grads(x)
        centred = g - g.mean(axis=-2, keepdims=True)
        return np.einsum("...n,...nd->...d", z, centred) / np.sqrt(self.n_samples)
