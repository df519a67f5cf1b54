"""The fast path's Python side: when it applies, and its data as flat arrays.

``LinearRegression`` and ``SphereRegression`` (and subclasses that keep their
per-sample functions) under the five built-in algorithms run in the
specialised kernels of ``toylab._kernels.fast`` on the CPU and the GPU;
:func:`choose` says so in Python, before anything compiles.  Everything else
runs in the general engine (``toylab._kernels.engine``).  The arrays' layouts
are documented in ``kernels/fast/models.py`` and ``kernels/fast/steps.py``.
"""

from __future__ import annotations

import math
import os
import weakref

import numpy as np

from ._kernels.engine import SAMPLER_CODES
from ._kernels.fast.models import NORMAL_CHUNK, LinearData, moment_scratch_length
from ._kernels.fast.simd import LANES, NARROW
from ._kernels.fast.steps import IN_LANES, FastParams
from .algorithms import GD, NGD, SGD, SVAG, EulerMaruyama
from .models import LinearRegression, SphereRegression
from .models.finite import linear_sample_grad, linear_sample_loss, sphere_sample_grad, sphere_sample_loss

#: The algorithms the fast kernels run (exactly these classes).
ALGORITHMS = (SGD, SVAG, NGD, EulerMaruyama, GD)
#: The fast kernels' models: class, and the per-sample functions it must keep.
MODELS = {
    "LinearRegression": (LinearRegression, linear_sample_loss, linear_sample_grad),
    "SphereRegression": (SphereRegression, sphere_sample_loss, sphere_sample_grad),
}
#: Most monomials (d + 1)(d + 2)/2 of the sphere's quartic records the fast
#: kernels take (d <= 43): their Gram matrix is that squared (8 MB here), and
#: a record costs that times its rank, beyond the general engine's O(n d).
SPHERE_MAX_MONOMIALS = 1024
#: Largest d whose x the fast SGD and SVAG keep in two vectors (8 lanes and 4).
LANES_MAX_DIM = LANES + NARROW
#: Set to False (or TOYLAB_FAST=0 in the environment) to run everything in the
#: general engine: what the tests of the fast kernels compare against.
ENABLED = os.environ.get("TOYLAB_FAST", "1") != "0"


def kernel_form(spec):
    """Which fast kernel of the algorithm runs ``spec`` (``kernels.fast.steps.kernel_name``).

    NGD and Euler-Maruyama: the model's noise method.  SGD and SVAG sampling
    with replacement at d <= LANES_MAX_DIM: x in vector registers
    (``kernels.fast.steps._in_lanes``); otherwise, and for GD, the stepwise
    kernel.  Each form is a kernel of its own, compiled only where it is
    chosen.
    """
    alg = spec.algorithm
    if alg.gaussian_noise:
        return spec.model.noise_method
    if type(alg) in (SGD, SVAG) and alg.sampler == "with_replacement" and spec.model.dim <= LANES_MAX_DIM:
        return IN_LANES
    return ""


def choose(model, algorithm):
    """The fast kernels' model name for (model, algorithm), or None for the general engine.

    Decided by the code the kernels would run, not by class names: a subclass
    of a built-in model that keeps its per-sample functions (and its compiled
    form) is served as its parent is; one that changes them is not.
    """
    if not ENABLED or type(algorithm) not in ALGORITHMS or algorithm.state_vectors:
        # the fast kernels carry no state beyond x: momentum runs in the general engine
        return None
    for name, (cls, loss, grad) in MODELS.items():
        if (
            isinstance(model, cls)
            and model.sample_loss is loss
            and model.sample_grad is grad
            and type(model).kernel_functions is cls.kernel_functions
            and type(model).kernel_data is cls.kernel_data
        ):
            if name == "SphereRegression" and (model.dim + 1) * (model.dim + 2) // 2 > SPHERE_MAX_MONOMIALS:
                # memory O(n d + d^2) to start: the general engine's records need no Gram matrix
                return None
            return name
    return None


def _moment_arrays(model):
    """The columns (S_k, s_k) of the noise factor as U[k, :], flat, and r (0: per sample).

    Row k of U is the upper triangle of the symmetric S_k, row by row
    (S_k[c, j] for j >= c), then s_k: e = d(d+1)/2 + d numbers.  The draw
    sum_k zeta_k (S_k z + s_k) is then W z + w with (W, w) = sum_k zeta_k U[k],
    r e + d^2 multiply-adds (kernels/fast/models.py).
    """
    if model.noise_method != "moments":
        return np.zeros(0), 0
    S, s = model.moment_factor()
    upper = np.triu_indices(model.dim)
    U = np.concatenate([S[:, upper[0], upper[1]], s], axis=1)
    return np.ascontiguousarray(U).reshape(-1), S.shape[0]


_SPHERE_FACTORS = weakref.WeakKeyDictionary()


def _sphere_quartic_factor(model):
    """F of a SphereRegression's records, computed once per model.

    With x_ls = ``model.x_ref`` (the least-squares point of the unconstrained
    fit A u ~ y), u = x_ls + e and et = (e, 1), a sample's
    r_i p_i = (a_i.u - y_i)(a_i.u) = (alpha_i.et)(beta_i.et), alpha_i =
    (a_i, r_i(x_ls)), beta_i = (a_i, a_i.x_ls), is linear in the monomials
    q_t = et_a et_b (a <= b, in the order of ``np.triu_indices(d + 1)``) with
    coefficients phi_i.  So (1/n) sum_i (r_i p_i)^2 = q^T G q with the Gram
    matrix G = (1/n) sum_i phi_i phi_i^T, and with G = F^T F (rows of F:
    eigenvectors scaled by the roots of the eigenvalues above
    len(q) eps max eigenvalue), |F q|^2: a sum of squares, no cancellation.
    """
    F = _SPHERE_FACTORS.get(model)
    if F is None:
        A, n, d = model.A, model.n_samples, model.dim
        r_ls = model._ref_residuals[0]
        fit = A @ model.x_ref
        ia, ib = np.triu_indices(d + 1)
        off = (ia != ib)[None, :]
        gram = np.zeros((len(ia), len(ia)))
        for start in range(0, n, 4096):
            rows = slice(start, start + 4096)
            alpha = np.concatenate([A[rows], r_ls[rows, None]], axis=1)
            beta = np.concatenate([A[rows], fit[rows, None]], axis=1)
            phi = alpha[:, ia] * beta[:, ib] + np.where(off, alpha[:, ib] * beta[:, ia], 0.0)
            gram += phi.T @ phi
        gram /= n
        lam, vec = np.linalg.eigh(gram)
        keep = lam > max(lam[-1], 0.0) * len(ia) * np.finfo(float).eps
        F = np.ascontiguousarray((vec[:, keep] * np.sqrt(lam[keep])).T)
        _SPHERE_FACTORS[model] = F
    return F


def noise_scratch_length(model):
    """Length of the CPU kernel's t2 scratch: ``kernels.fast.models.moment_scratch_length``
    where the moment-factor noise forms the column sums of several steps at once
    (with their normals, drawn in Box-Muller pairs), d + NORMAL_CHUNK where a
    finite data set's noise is drawn per sample, NORMAL_CHUNK normals at a time
    (``kernels/fast/models.py``), else d."""
    d = model.dim
    if getattr(model, "noise_method", None) == "moments":
        return moment_scratch_length(d, model.noise_dim)
    if model.finite:
        return d + NORMAL_CHUNK
    return d


def model_data(model):
    """The model's data for the fast kernels: a ``LinearData`` (``kernels/fast/models.py``).

    Beside the data set, what the records about the least-squares point x_ls
    of A z ~ y take (quad_ls, sq_residual_ls, h_minus_b): the loss and
    tr Sigma_1 in O(d^2) per record instead of O(n d) (O(d^4) for the
    sphere's quartic sum), with Q = (1/n) sum_i |a_i|^2 a_i a_i^T,
    q_ls = (1/n) sum_i |a_i|^2 r_i(x_ls) a_i, L_ls = (1/2n) sum_i r_i(x_ls)^2
    and s_ls = (1/n) sum_i |a_i|^2 r_i(x_ls)^2; the moment factor's columns;
    and on the sphere the factor F of its quartic records, F^T row by row.
    """
    A, n = model.A, model.n_samples
    r_ls = model._ref_residuals[0]
    row_sq = np.einsum("ij,ij->i", A, A)
    factor, r = _moment_arrays(model)
    if isinstance(model, SphereRegression):
        F = _sphere_quartic_factor(model)
        FT, r4 = F.T.reshape(-1), F.shape[0]
    else:
        FT, r4 = np.zeros(0), 0
    floats = lambda a: np.ascontiguousarray(a, dtype=float)  # noqa: E731
    return LinearData(
        A=floats(A),
        y=floats(model.y),
        H=floats(model.H),
        b=floats(model.b),
        Q=floats((A * row_sq[:, None]).T @ A / n),
        x_ls=floats(model.x_ref),
        q_ls=floats(A.T @ (row_sq * r_ls) / n),
        loss_ls=float(0.5 * np.mean(r_ls**2)),
        s_ls=float(np.mean(row_sq * r_ls**2)),
        U=floats(factor),
        r=np.int64(r),
        FT=floats(FT),
        r4=np.int64(r4),
        n=np.int64(n),
    )


def algorithm_params(model, algorithm):
    """The fast steps' ``FastParams`` (``kernels/fast/steps.py``)."""
    B = getattr(algorithm, "batch_size", 1)
    sampler = getattr(algorithm, "sampler", "with_replacement")
    f = model.batch_factor(B, sampler) if hasattr(algorithm, "batch_size") else 0.0
    c1, c2 = algorithm.coefficients if isinstance(algorithm, SVAG) else (1.0, 0.0)
    return FastParams(
        lr=float(algorithm.lr),
        weight_decay=float(algorithm.weight_decay),
        step=float(algorithm.step_time),
        c1=float(c1),
        c2=float(c2),
        noise_coef=float(algorithm.noise_coef) if algorithm.gaussian_noise else 0.0,
        sqrt_f=math.sqrt(f),
        f=float(f),
        batch_size=np.int64(B),
        sampler=np.int64(SAMPLER_CODES[sampler]),
        records_trace=np.int64(0 if isinstance(algorithm, GD) else 1),
    )


def kernel_inputs(spec):
    """``(data, params)`` for a run: what every fast kernel takes beside the run's own arguments."""
    return model_data(spec.model), algorithm_params(spec.model, spec.algorithm)
