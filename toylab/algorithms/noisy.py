"""Gradient descent with Gaussian noise of covariance Sigma_B: NGD, eq. (3), and
Euler-Maruyama for the SDE (2)/(6).  Both take the same step with other
coefficients, and so compile once."""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass, field

from .. import _validate as V
from ._base import Algorithm

#: What the compiled step reads: the drift's step s, the weight decay, the noise's
#: factor coef and sqrt(f), f the batch factor with Sigma_B = f Sigma_1, and
#: the momentum (NGD's; 0 for Euler-Maruyama).
NoisyParams = namedtuple("NoisyParams", ["drift_step", "weight_decay", "noise_coef", "sqrt_f", "momentum"])


class _Noisy(Algorithm):
    """``x <- x - s (grad L + wd x) + coef Sigma_B(x)^{1/2} z``."""

    gaussian_noise = True

    @property
    def noise_coef(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def numpy_step(self, model, draws, x, state, k):
        f = model.batch_factor(self.batch_size, self.sampler)
        mu = getattr(self, "momentum", 0.0)
        if mu == 0.0:
            drift = x - self.step_time * (model.grad(x) + self.weight_decay * x)
            return drift + self.noise_coef * (math.sqrt(f) * draws.noise(x, k))
        # heavy ball on the noisy gradient grad L + wd x - Sigma_B^{1/2} z (NGD: coef = lr)
        state[:, 0] = mu * state[:, 0] + ((model.grad(x) + self.weight_decay * x) - math.sqrt(f) * draws.noise(x, k))
        return x - self.lr * state[:, 0]

    @staticmethod
    def compiled_step(jit, model):
        grad, noise = model.grad, model.noise

        @jit
        def noisy(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            # NGD eq. (3) (s = coef = lr) and Euler-Maruyama (s = dt, coef = sqrt(dt lr)):
            # x <- x - s (grad L + wd x) + coef Sigma_B^{1/2} z; NGD with momentum
            # mu: b <- mu b + (grad L + wd x - Sigma_B^{1/2} z), x <- x - lr b
            grad(x, data, t1, g)
            noise(x, data, k, path, seed, t1, t2, g2)
            s = params.drift_step
            wd = params.weight_decay
            coef = params.noise_coef
            sqrt_f = params.sqrt_f
            mu = params.momentum
            if mu == 0.0:
                for c in range(x.shape[0]):
                    x[c] = x[c] - s * (g[c] + wd * x[c]) + coef * (sqrt_f * g2[c])
            else:
                for c in range(x.shape[0]):
                    b = mu * state[0, c] + ((g[c] + wd * x[c]) - sqrt_f * g2[c])
                    state[0, c] = b
                    x[c] = x[c] - coef * b

        return noisy

    def kernel_params(self, model):
        f = model.batch_factor(self.batch_size, self.sampler)
        return NoisyParams(
            float(self.step_time), float(self.weight_decay), float(self.noise_coef), math.sqrt(f),
            float(getattr(self, "momentum", 0.0)),
        )


@dataclass(frozen=True)
class NGD(_Noisy):
    """Noisy gradient descent, eq. (3): ``x <- x - lr (grad L + wd x) + lr Sigma_B(x)^{1/2} z``.

    ``sampler`` chooses the form of Sigma_B (``"with_replacement"`` or
    ``"without_replacement"``); no batch is drawn.  With ``momentum`` mu > 0,
    heavy ball on its noisy gradient, as for :class:`SGD`:
    ``b <- mu b + grad L + wd x - Sigma_B^{1/2} z``, ``x <- x - lr b``; a step
    is lr/(1 - mu) of SDE time.
    """

    lr: float
    batch_size: int
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    momentum: float = field(default=0.0, kw_only=True)

    def __post_init__(self):
        self._check_common()

    @property
    def step_time(self):
        return self.lr / (1.0 - self.momentum)

    @property
    def noise_coef(self):
        return self.lr


@dataclass(frozen=True)
class EulerMaruyama(_Noisy):
    """Euler-Maruyama with step dt for the SDE (2)/(6) whose diffusion is lr Sigma_B.

    ``X <- X - dt (grad L(X) + wd X) + sqrt(dt lr) Sigma_B(X)^{1/2} z``.
    """

    lr: float
    batch_size: int
    dt: float
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)

    def __post_init__(self):
        self._check_common()
        object.__setattr__(self, "dt", V.real("dt", self.dt, positive=True))

    @property
    def step_time(self):
        return self.dt

    @property
    def moment_coefficients(self):
        return self.dt, self.dt * self.lr

    @property
    def noise_coef(self):
        return math.sqrt(self.dt * self.lr)
