"""Stochastic gradient descent, eq. (1)."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

from .._kernels.engine import sampler_code
from ._base import Algorithm

#: What the compiled step reads: the learning rate, the weight decay, the
#: momentum, B and the sampler's code.
SGDParams = namedtuple("SGDParams", ["lr", "weight_decay", "momentum", "batch_size", "sampler"])


@dataclass(frozen=True)
class SGD(Algorithm):
    """Stochastic gradient descent, eq. (1): ``x <- x - lr (grad L_gamma(x) + wd x)``.

    With ``momentum`` mu > 0, heavy ball as ``torch.optim.SGD`` (no dampening):
    ``b <- mu b + grad L_gamma(x) + wd x``, ``x <- x - lr b``, b starting at 0.
    Its drift is that of SGD at the effective learning rate lr/(1 - mu), so a
    step is lr/(1 - mu) of SDE time, and momentum SGD compares with
    ``SDE(lr / (1 - mu), batch_size)`` at equal times.  ``momentum=0`` is plain
    SGD, bit for bit.

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
    momentum : float, keyword
        mu in [0, 1), heavy-ball momentum (default 0: none).
    """

    lr: float
    batch_size: int
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    momentum: float = field(default=0.0, kw_only=True)
    draws_batches = True
    n_batches = 1

    def __post_init__(self):
        self._check_common()

    @property
    def step_time(self):
        return self.lr / (1.0 - self.momentum)

    def numpy_step(self, model, draws, x, state, k):
        g = draws.batch_grad(x, k, 0) + self.weight_decay * x
        if self.momentum == 0.0:
            return x - self.lr * g
        state[:, 0] = self.momentum * state[:, 0] + g
        return x - self.lr * state[:, 0]

    @staticmethod
    def compiled_step(jit, model):
        batch_grad = model.batch_grad

        @jit
        def sgd(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            # eq. (1): x <- x - lr (grad L_gamma(x) + wd x); with momentum mu,
            # b <- mu b + grad L_gamma(x) + wd x, x <- x - lr b (state[0] is b)
            batch_grad(x, data, params.batch_size, params.sampler, 0, k, path, seed, perm1, buf, cur, t1, g)
            lr = params.lr
            wd = params.weight_decay
            mu = params.momentum
            if mu == 0.0:
                for c in range(x.shape[0]):
                    x[c] = x[c] - lr * (g[c] + wd * x[c])
            else:
                for c in range(x.shape[0]):
                    b = mu * state[0, c] + (g[c] + wd * x[c])
                    state[0, c] = b
                    x[c] = x[c] - lr * b

        return sgd

    def kernel_params(self, model):
        return SGDParams(
            float(self.lr), float(self.weight_decay), float(self.momentum), np.int64(self.batch_size),
            sampler_code(self.sampler),
        )
