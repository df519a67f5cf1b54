"""Experiments: each a function returning a result object that saves and loads.

======================  =========================================================
``exact_weak_error``    Theorem 4.3, exactly, on the linear models
``weak_error``          Theorem 4.3 by Monte Carlo (SphereRegression), two references
``equilibrium``         eqs. (9)-(12) and Theorem 5.2 on SphereRegression
``lsr``                 Theorem 5.6, eq. (14): where the linear scaling rule fails
``svag_paths``          SVAG converging to the SDE along time (Figure 4)
``stationary``          stationary covariance of SGD/SVAG against the SDE's
``regimes``             best learning rate against batch size (Smith et al.)
``momentum``            heavy ball's stationary fluctuations against its SDE's
``noise``               critical learning rate of minibatch noise; stationary loss
``escape``              escape rates over a barrier: log against linear barrier
======================  =========================================================

Sweeps take an ``executor`` (:class:`Executor`): serial, a local process
pool, or a Dask cluster.
"""

from ._executor import Executor, run_sweep
from .equilibrium import EquilibriumResult, equilibrium
from .escape import EscapeResult, escape
from .lsr import LsrResult, lsr
from .momentum import MomentumResult, momentum
from .noise import NoiseResult, noise
from .regimes import RegimesResult, noise_scale, regimes
from .stationary import StationaryResult, lyapunov_covariances, stationary
from .svag_paths import SvagPathsResult, svag_paths
from .weak_error import ExactWeakError, WeakError, exact_weak_error, weak_error

__all__ = [
    "Executor",
    "run_sweep",
    "ExactWeakError",
    "exact_weak_error",
    "WeakError",
    "weak_error",
    "EquilibriumResult",
    "equilibrium",
    "LsrResult",
    "lsr",
    "SvagPathsResult",
    "svag_paths",
    "StationaryResult",
    "stationary",
    "lyapunov_covariances",
    "RegimesResult",
    "regimes",
    "noise_scale",
    "MomentumResult",
    "momentum",
    "NoiseResult",
    "noise",
    "EscapeResult",
    "escape",
]
