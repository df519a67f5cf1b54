"""Stochastic gradient descent, eq. (1)."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

from .._kernels.engine import sampler_code
from ._base import Algorithm

#: What the compiled step reads: the learning rate, the weight decay, B and the sampler's code.
SGDParams = namedtuple("SGDParams", ["lr", "weight_decay", "batch_size", "sampler"])


@dataclass(frozen=True)
class SGD(Algorithm):
    """Stochastic gradient descent, eq. (1): ``x <- x - lr (grad L_gamma(x) + wd x)``.

    Parameters
    ----------
    lr : float
        Learning rate eta > 0; one step is eta of SDE time.
    batch_size : int
        B >= 1.
    weight_decay : float, keyword
        lambda >= 0 (eq. 7).
    sampler : str, keyword
        ``"with_replacement"`` (default), ``"without_replacement"`` or ``"reshuffle"``.
    """

    lr: float
    batch_size: int
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    draws_batches = True
    n_batches = 1

    def __post_init__(self):
        self._check_common()

    def numpy_step(self, model, draws, x, state, k):
        return x - self.lr * (draws.batch_grad(x, k, 0) + self.weight_decay * x)

    @staticmethod
    def compiled_step(jit, model):
        batch_grad = model.batch_grad

        @jit
        def sgd(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            # eq. (1): x <- x - lr (grad L_gamma(x) + wd x)
            batch_grad(x, data, params.batch_size, params.sampler, 0, k, path, seed, perm1, buf, cur, t1, g)
            lr = params.lr
            wd = params.weight_decay
            for c in range(x.shape[0]):
                x[c] = x[c] - lr * (g[c] + wd * x[c])

        return sgd

    def kernel_params(self, model):
        return SGDParams(float(self.lr), float(self.weight_decay), np.int64(self.batch_size), sampler_code(self.sampler))
