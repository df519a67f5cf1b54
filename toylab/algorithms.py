"""The algorithms: frozen, validated hyperparameter records.

Every trajectory is indexed by SDE time (Section 2): one step of SGD or NGD is
``lr`` of SDE time, one step of SVAG is ``lr / l``, one step of Euler-Maruyama
is ``dt``.  Weight decay ``lambda`` enters only the dynamics, as the gradient of
``lambda/2 |x|^2`` (eq. 7); losses and observables are those of the data loss.

===================  ===========================================================
``SGD``              x <- x - lr (grad L_gamma(x) + wd x)                  eq. (1)
``SVAG``             x <- x - (lr/l)(grad L^l(x) + wd x),                  eq. (5)
                     L^l = (1+sqrt(2l-1))/2 L_gamma1 + (1-sqrt(2l-1))/2 L_gamma2
``NGD``              x <- x - lr (grad L + wd x) + lr Sigma_B^{1/2} z      eq. (3)
``EulerMaruyama``    X <- X - dt (grad L + wd X) + sqrt(dt) (lr Sigma_B)^{1/2} z
``GD``               x <- x - lr (grad L + wd x)
``SDE``              dX = -(grad L + wd X) dt + (lr Sigma_B(X))^{1/2} dW   eqs. (2), (6)
===================  ===========================================================
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from . import _validate as V
from .samplers import SAMPLERS, check_sampler

__all__ = ["SGD", "SVAG", "NGD", "EulerMaruyama", "GD", "SDE", "ALGORITHMS"]

# Samplers for algorithms that draw no batch: the noise only needs Sigma_B's form.
_COV_SAMPLERS = ("with_replacement", "without_replacement")


class Algorithm:
    """Shared behaviour of the records below."""

    #: the algorithm draws batch indices (and so takes every sampler)
    draws_batches = False
    #: number of independent batches per step
    n_batches = 0
    #: Gaussian noise N(0, Sigma_B) is added (NGD, Euler-Maruyama)
    gaussian_noise = False
    #: a discrete-time algorithm that ``simulate`` can run
    discrete = True

    def _check_common(self):
        object.__setattr__(self, "lr", V.real("lr", self.lr, positive=True))
        object.__setattr__(self, "weight_decay", V.real("weight_decay", self.weight_decay, nonnegative=True))
        if hasattr(self, "batch_size"):
            object.__setattr__(self, "batch_size", V.integer("batch_size", self.batch_size, minimum=1))
        if hasattr(self, "sampler"):
            allowed = SAMPLERS if self.draws_batches else _COV_SAMPLERS
            if self.sampler == "reshuffle" and not self.draws_batches:
                raise ValueError(
                    f"sampler 'reshuffle' needs an algorithm that draws batches; {type(self).__name__} only uses "
                    "the noise covariance, whose per-step marginal under reshuffling is that of "
                    "sampler='without_replacement'"
                )
            check_sampler(self.sampler, allowed=allowed)

    @property
    def step_time(self):
        """SDE time advanced by one step."""
        return self.lr

    @property
    def moment_coefficients(self):
        """``(s, q)``: the step size on the drift and the factor on E Sigma_B.

        For every discrete algorithm here, one step maps
        ``E x -> (1 - s wd) E x - s E grad L`` and adds ``q E Sigma_B(x)`` to the
        covariance of the step: SGD and NGD (s, q) = (lr, lr^2); SVAG
        (lr/l, lr^2/l) because the SVAG gradient has covariance l Sigma_B
        (Lemma 4.7 (ii)); Euler-Maruyama (dt, dt lr); GD (lr, 0).
        """
        return self.step_time, self.lr**2

    def describe(self):
        """The record as a JSON-able dict, with its class name."""
        return {"algorithm": type(self).__name__, **asdict(self)}


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


@dataclass(frozen=True)
class NGD(Algorithm):
    """Noisy gradient descent, eq. (3): ``x <- x - lr (grad L + wd x) + lr Sigma_B(x)^{1/2} z``.

    ``sampler`` chooses the form of Sigma_B (``"with_replacement"`` or
    ``"without_replacement"``); no batch is drawn.
    """

    lr: float
    batch_size: int
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    gaussian_noise = True

    def __post_init__(self):
        self._check_common()


@dataclass(frozen=True)
class EulerMaruyama(Algorithm):
    """Euler-Maruyama with step dt for the SDE (2)/(6) whose diffusion is lr Sigma_B.

    ``X <- X - dt (grad L(X) + wd X) + sqrt(dt lr) Sigma_B(X)^{1/2} z``.
    """

    lr: float
    batch_size: int
    dt: float
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    gaussian_noise = True

    def __post_init__(self):
        self._check_common()
        object.__setattr__(self, "dt", V.real("dt", self.dt, positive=True))

    @property
    def step_time(self):
        return self.dt

    @property
    def moment_coefficients(self):
        return self.dt, self.dt * self.lr


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


@dataclass(frozen=True)
class SDE(Algorithm):
    """The SDE itself, eqs. (2)/(6): ``dX = -(grad L + wd X) dt + (lr Sigma_B(X))^{1/2} dW``.

    A continuous-time process: ``toylab.exact`` propagates its moments with a
    matrix exponential; ``simulate`` refuses it (use :class:`EulerMaruyama`).
    """

    lr: float
    batch_size: int
    weight_decay: float = field(default=0.0, kw_only=True)
    sampler: str = field(default="with_replacement", kw_only=True)
    discrete = False

    def __post_init__(self):
        self._check_common()

    @property
    def step_time(self):
        return None


#: Method names (as the CLI spells them) to classes.
ALGORITHMS = {
    "sgd": SGD,
    "svag": SVAG,
    "ngd": NGD,
    "em": EulerMaruyama,
    "gd": GD,
    "sde": SDE,
}
