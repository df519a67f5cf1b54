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

from ._base import Algorithm
from .gd import GD
from .noisy import NGD, EulerMaruyama
from .sde import SDE
from .sgd import SGD
from .svag import SVAG

__all__ = ["Algorithm", "SGD", "SVAG", "NGD", "EulerMaruyama", "GD", "SDE", "ALGORITHMS"]

#: Method names (as the CLI spells them) to classes.
ALGORITHMS = {
    "sgd": SGD,
    "svag": SVAG,
    "ngd": NGD,
    "em": EulerMaruyama,
    "gd": GD,
    "sde": SDE,
}
