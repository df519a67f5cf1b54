"""Stochastic Variance Amplified Gradient, eq. (5)."""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as V
from .._kernels.engine import sampler_code
from ._base import Algorithm

#: What the compiled step reads: the step lr/l, the weight decay, SVAG's
#: coefficients c1 and c2, B and the sampler's code.
SVAGParams = namedtuple("SVAGParams", ["step", "weight_decay", "c1", "c2", "batch_size", "sampler"])


@dataclass(frozen=True)
class SVAG(Algorithm):
    """Stochastic Variance Amplified Gradient, eq. (5), with parameter l >= 1.

    ``x <- x - (lr/l) (grad L^l(x) + wd x)`` with
    ``L^l = c1 L_gamma1 + c2 L_gamma2``, ``c1,2 = (1 +- sqrt(2l - 1))/2`` and
    gamma1, gamma2 independent batches.  The combined gradient has mean grad L
    and covariance l Sigma_B, so SVAG is an order-1 weak approximation of the
    SDE with error O(1/l) (Theorem 4.3).  ``l = 1`` is SGD exactly.
    """

    lr: float
    batch_size: int
    l: float
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    draws_batches = True
    n_batches = 2

    def __post_init__(self):
        self._check_common()
        l = V.real("l", self.l)
        if l < 1:
            raise ValueError(f"l must be >= 1, got {l}")
        object.__setattr__(self, "l", l)

    @property
    def coefficients(self):
        """``(c1, c2) = ((1 + sqrt(2l-1))/2, (1 - sqrt(2l-1))/2)``: c1 + c2 = 1, c1^2 + c2^2 = l."""
        s = math.sqrt(2.0 * self.l - 1.0)
        return 0.5 * (1.0 + s), 0.5 * (1.0 - s)

    @property
    def step_time(self):
        return self.lr / self.l

    @property
    def moment_coefficients(self):
        return self.lr / self.l, self.lr**2 / self.l

    def numpy_step(self, model, draws, x, state, k):
        c1, c2 = self.coefficients
        g = c1 * draws.batch_grad(x, k, 0) + c2 * draws.batch_grad(x, k, 1)
        return x - self.step_time * (g + self.weight_decay * x)

    @staticmethod
    def compiled_step(jit, model):
        batch_grad = model.batch_grad

        @jit
        def svag(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            # eq. (5): x <- x - (lr/l)(c1 grad L_gamma1 + c2 grad L_gamma2 + wd x);
            # the two batches in a loop, so that the batch gradient is compiled
            # (and inlined) once
            for which in range(2):
                perm = perm1 if which == 0 else perm2
                out = g if which == 0 else g2
                batch_grad(x, data, params.batch_size, params.sampler, which, k, path, seed, perm, buf, cur, t1, out)
            s = params.step
            wd = params.weight_decay
            c1 = params.c1
            c2 = params.c2
            for c in range(x.shape[0]):
                x[c] = x[c] - s * ((c1 * g[c] + c2 * g2[c]) + wd * x[c])

        return svag

    def kernel_params(self, model):
        c1, c2 = self.coefficients
        return SVAGParams(
            float(self.step_time), float(self.weight_decay), c1, c2, np.int64(self.batch_size), sampler_code(self.sampler)
        )
