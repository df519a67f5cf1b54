"""The toy losses: exact L, grad L, Sigma_B and noise draws (NumPy reference),
and the compiled functions every backend runs.

A user's own model is a :class:`FiniteSum` (two per-sample functions and a data
array) or a subclass of :class:`Model`; the built-in models go through the same
door.
"""

from ._base import Model
from .barrier import CircleBarrier, circle_barrier_exit
from .data_set import DataSetModel
from .finite import LinearRegression, SphereRegression
from .finite_sum import FiniteSum
from .population import GaussianLinearRegression, NoisyQuadratic

__all__ = [
    "Model",
    "FiniteSum",
    "DataSetModel",
    "LinearRegression",
    "SphereRegression",
    "GaussianLinearRegression",
    "NoisyQuadratic",
    "CircleBarrier",
    "circle_barrier_exit",
]
