"""Full-batch gradient descent."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field

from ._base import Algorithm

#: What the compiled step reads.
GDParams = namedtuple("GDParams", ["lr", "weight_decay"])


@dataclass(frozen=True)
class GD(Algorithm):
    """Full-batch gradient descent: ``x <- x - lr (grad L(x) + wd x)``."""

    lr: float
    weight_decay: float = field(default=0.0, kw_only=True)

    def __post_init__(self):
        self._check_common()

    @property
    def moment_coefficients(self):
        return self.lr, 0.0

    def numpy_step(self, model, draws, x, state, k):
        return x - self.lr * (model.grad(x) + self.weight_decay * x)

    @staticmethod
    def compiled_step(jit, model):
        grad = model.grad

        @jit
        def gd(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            grad(x, data, t1, g)
            lr = params.lr
            wd = params.weight_decay
            for c in range(x.shape[0]):
                x[c] = x[c] - lr * (g[c] + wd * x[c])

        return gd

    def kernel_params(self, model):
        return GDParams(float(self.lr), float(self.weight_decay))
