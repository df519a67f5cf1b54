"""What every algorithm shares: validation, SDE time per step, the moment map's coefficients.

An algorithm is one file (``sgd.py``, ``svag.py``, ...): a frozen dataclass of
hyperparameters subclassing :class:`Algorithm`, with

* ``state_vectors``: how many per-path vectors of length d it carries beyond x
  (zeroed at the start of every path; heavy-ball momentum's velocity is one:
  SGD and NGD with ``momentum`` > 0);
* ``numpy_step(model, draws, x, state, k)``: the step on a chunk of paths, the
  readable specification, drawing its randomness from ``draws``
  (``toylab._numpy_backend.Draws``: ``batch_grad(x, k, which)`` and
  ``noise(x, k)``, a draw of N(0, Sigma_1(x)));
* ``compiled_step(jit, model)`` (a static method): the same step for one path,
  compiled for the CPU and the GPU from the model's compiled functions
  (signatures in ``toylab._kernels.engine``);
* ``kernel_params(model)``: its hyperparameters as the named tuple the
  compiled step reads.

``simulate`` and every backend call these without knowing which algorithm they
have; algorithms whose ``compiled_step`` is the same function compile once.
"""

from __future__ import annotations

from dataclasses import asdict

from .. import _validate as V
from ..samplers import SAMPLERS, check_sampler

# Samplers for algorithms that draw no batch: the noise only needs Sigma_B's form.
COV_SAMPLERS = ("with_replacement", "without_replacement")


class Algorithm:
    """Shared behaviour of the algorithm records."""

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
        if hasattr(self, "momentum"):
            mu = V.real("momentum", self.momentum, nonnegative=True)
            if mu >= 1:
                raise ValueError(f"momentum must be in [0, 1), got {mu}")
            object.__setattr__(self, "momentum", mu)
        if hasattr(self, "sampler"):
            allowed = SAMPLERS if self.draws_batches else COV_SAMPLERS
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
    def state_vectors(self):
        """Per-path vectors of length d carried beyond x, zeroed at the start:
        heavy-ball momentum's velocity where ``momentum`` > 0, else none."""
        return 1 if getattr(self, "momentum", 0.0) else 0

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

    # ---- the steps (each algorithm's file) -----------------------------------
    def numpy_step(self, model, draws, x, state, k):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no NumPy step")

    @staticmethod
    def compiled_step(jit, model):  # pragma: no cover - abstract
        raise NotImplementedError("this algorithm has no compiled step")

    def kernel_params(self, model):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no compiled parameters")
