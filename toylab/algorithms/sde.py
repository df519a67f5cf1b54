"""The SDE itself: continuous time, for ``toylab.exact``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._base import Algorithm


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
