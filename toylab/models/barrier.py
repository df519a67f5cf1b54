r"""Square losses with a barrier: a minimum with nonzero loss, a saddle, and loss-driven noise.

Each sample is a regression residual on the circle,

    l_i(x) = 1/2 (a_i cos x_0 + b_i sin x_0 + c_i x_1 - y_i)^2,    y_i = rho a_i + sqrt(v) e_i,

with features (a_i, b_i) whose moments up to the fourth are those of two
standard normals (twelve points: six on a circle of radius 2, six at 0), label
noise e_i in {-1, +1} and c_i in {-kappa, +kappa}, over every combination (24
samples in 1-D, 48 in 2-D, where x_1 is the transverse coordinate).  Then,
exactly,

    L(x) = 1/2 (1 - 2 rho cos x_0 + rho^2 + v + kappa^2 x_1^2),

a minimum at x = 0 with L* = ((1 - rho)^2 + v) / 2 and a saddle at
x_0 = +-pi (the same point of the circle, reached either way round) with
L_s = ((1 + rho)^2 + v) / 2: the linear barrier L_s - L* = 2 rho and the log
barrier log(L_s / L*) are set independently by rho and the label noise v.
The gradient noise is multiplicative, driven by the loss:

    Sigma_1(x) = 2 L(x) + L'(x)^2    (1-D; L' = rho sin x_0),

the form ``Sigma = 2 L H`` of Mori et al. (2022) with H = E r'^2 = 1, exact at
the minimum and the saddle and within ``rho^2`` between.  It stays bounded on
the circle, so no path leaves "outward": the only way out of (-pi, pi) is
over the saddle.  ``toylab.theory.power_law_rate`` and ``kramers_rate`` give the
two laws' rates; ``toylab.exact.mean_exit_time`` the SDE's exactly (1-D).
"""

from __future__ import annotations

import itertools
import math
from collections import namedtuple

import numba
import numpy as np

from .. import _validate as V
from .._kernels import finite_sum as _compiled_finite_sum
from .._kernels import rng as _rng
from .finite_sum import FiniteSum

__all__ = ["CircleBarrier", "circle_barrier_exit"]

#: The features (a, b): six at radius 2 on equally spaced angles and six at 0.
#: Their moments up to the fourth are those of two independent standard
#: normals (E a^2 = 1, E a^4 = 3, E a^2 b^2 = 1; odd ones 0), which is all the
#: noise covariance depends on: so Sigma_1 = 2 L + L'^2 exactly, as for
#: Gaussian inputs.
_FEATURES = [(2.0 * math.cos(math.pi * j / 3), 2.0 * math.sin(math.pi * j / 3)) for j in range(6)] + [(0.0, 0.0)] * 6


@numba.njit
def _loss_1d(x, row):
    r = row[0] * math.cos(x[0]) + row[1] * math.sin(x[0]) - row[2]
    return 0.5 * r * r


@numba.njit
def _grad_1d(x, row, out):
    c = math.cos(x[0])
    s = math.sin(x[0])
    r = row[0] * c + row[1] * s - row[2]
    out[0] = r * (row[1] * c - row[0] * s)


@numba.njit
def _loss_2d(x, row):
    r = row[0] * math.cos(x[0]) + row[1] * math.sin(x[0]) + row[3] * x[1] - row[2]
    return 0.5 * r * r


@numba.njit
def _grad_2d(x, row, out):
    c = math.cos(x[0])
    s = math.sin(x[0])
    r = row[0] * c + row[1] * s + row[3] * x[1] - row[2]
    out[0] = r * (row[1] * c - row[0] * s)
    out[1] = r * row[3]


#: The compiled kernels' view of a 1-D CircleBarrier: its rows, and rho and v for
#: the closed forms of grad L and Sigma_1.
CircleBarrierData = namedtuple("CircleBarrierData", ["rows", "rho", "label_noise"])


def _build_one_dimensional(jit, sample_loss, sample_grad):
    """A finite sum's compiled functions with the closed forms of the 1-D
    CircleBarrier for the full gradient, ``L' = rho sin x``, and for the Gaussian
    noise, ``z sqrt(Sigma_1(x))`` with ``Sigma_1 = 2 L + L'^2`` from one normal:
    an Euler-Maruyama step then costs a few operations instead of a pass over
    the 24 samples.  Batches, and the records, still sum over the samples."""
    fns = _compiled_finite_sum.build(jit, sample_loss, sample_grad)
    next_normal = _rng.build(jit, math).next_normal
    kind_noise = np.uint64(_rng.KIND_NOISE)
    sqrt, cos, sin = math.sqrt, math.cos, math.sin

    @jit
    def grad(x, data, t, out):
        out[0] = data.rho * sin(x[0])

    @jit
    def noise(x, data, k, path, seed, t, t2, out):
        rho = data.rho
        slope = rho * sin(x[0])
        # 2 L + L'^2 (module docstring)
        sigma1 = 1.0 - 2.0 * rho * cos(x[0]) + rho * rho + data.label_noise + slope * slope
        z, carry = next_normal(seed, path, k, kind_noise, 0, 0.0)
        out[0] = z * sqrt(sigma1)

    fns.grad = grad
    fns.noise = noise
    return fns


@numba.njit
def circle_barrier_exit(x):
    """The exit test of :class:`CircleBarrier`: the path has reached the saddle, |x_0| >= pi."""
    return abs(x[0]) >= math.pi


class CircleBarrier(FiniteSum):
    r"""A square loss on the circle with a barrier whose linear and log heights are set apart.

    ``L(x) = (1 - 2 rho cos x_0 + rho^2 + v + kappa^2 x_1^2) / 2`` (module
    docstring): a minimum at 0 with ``L* = ((1 - rho)^2 + v) / 2``, a saddle at
    ``x_0 = +-pi`` with ``L_s = ((1 + rho)^2 + v) / 2``, curvatures ``+-rho``
    along x_0 and ``kappa^2`` across; the noise is a finite sum's, driven by
    the residuals (multiplicative).

    Parameters
    ----------
    rho : float
        In (0, 1): half the linear barrier, ``L_s - L* = 2 rho``.
    label_noise : float
        v >= 0: raises L* and L_s together, lowering the log barrier
        ``log(L_s / L*)`` at a fixed linear one.
    dim : int
        1, or 2 for a transverse coordinate x_1 of curvature ``kappa^2``.
    kappa : float
        The transverse scale (2-D only).
    """

    def __init__(self, rho: float, label_noise: float, dim: int = 1, *, kappa: float = 1.0) -> None:
        rho = V.real("rho", rho, positive=True)
        if rho >= 1:
            raise ValueError(f"rho must be in (0, 1), got {rho}")
        v = V.real("label_noise", label_noise, nonnegative=True)
        dim = V.integer("dim", dim, minimum=1)
        if dim > 2:
            raise ValueError(f"dim must be 1 or 2, got {dim}")
        kappa = V.real("kappa", kappa, positive=True)
        signs = [-1.0, 1.0]
        rows = []
        for (a, b), e, c in itertools.product(_FEATURES, signs, signs if dim == 2 else [0.0]):
            rows.append([a, b, rho * a + math.sqrt(v) * e] + ([kappa * c] if dim == 2 else []))
        loss, grad = (_loss_1d, _grad_1d) if dim == 1 else (_loss_2d, _grad_2d)
        super().__init__(np.array(rows), loss, grad, dim)
        self.rho, self.label_noise, self.kappa = rho, v, kappa
        if dim == 1:
            self.noise_method = "closed_form"

    # ---- in 1-D, Gaussian noise from one normal (the numpy reference of _build_one_dimensional)
    @property
    def noise_dim(self):
        return 1 if self.dim == 1 else self.n_samples

    def noise_unit(self, x, z):
        """A draw of N(0, Sigma_1(x)): in 1-D ``z_0 sqrt(Sigma_1(x))``, else the finite sum's."""
        if self.dim != 1:
            return super().noise_unit(x, z)
        return z[..., :1] * np.sqrt(np.maximum(self.sigma1_trace(x), 0.0))[..., None]

    def kernel_functions(self):
        if self.dim != 1:
            return super().kernel_functions()
        return _build_one_dimensional, (self.sample_loss, self.sample_grad)

    def kernel_data(self):
        if self.dim != 1:
            return super().kernel_data()
        return CircleBarrierData(self.data, self.rho, self.label_noise)

    @property
    def loss_min(self) -> float:
        """L* = ((1 - rho)^2 + v) / 2, the loss at the minimum x = 0."""
        return 0.5 * ((1 - self.rho) ** 2 + self.label_noise)

    @property
    def loss_saddle(self) -> float:
        """L_s = ((1 + rho)^2 + v) / 2, the loss at the saddle x_0 = +-pi."""
        return 0.5 * ((1 + self.rho) ** 2 + self.label_noise)

    @property
    def linear_barrier(self) -> float:
        """L_s - L* = 2 rho: the barrier of the Arrhenius law."""
        return self.loss_saddle - self.loss_min

    @property
    def log_barrier(self) -> float:
        """log(L_s / L*): the barrier of the power law."""
        return math.log(self.loss_saddle / self.loss_min)

    @property
    def curvatures(self) -> tuple:
        """(h*, h_s): L'' along x_0 at the minimum (rho) and at the saddle (-rho)."""
        return self.rho, -self.rho

    def describe(self):
        out = super().describe()
        out.update(model="CircleBarrier", rho=self.rho, label_noise=self.label_noise)
        if self.dim == 2:
            out["kappa"] = self.kappa
        return out

    def __repr__(self):
        extra = f", kappa={self.kappa}" if self.dim == 2 else ""
        return f"CircleBarrier(rho={self.rho}, label_noise={self.label_noise}, dim={self.dim}{extra})"
