"""The toy losses: exact L, grad L, Sigma_B and noise draws (NumPy reference)."""

from ._base import DataSetModel, Model
from .finite import LinearRegression, SphereRegression
from .population import GaussianLinearRegression, NoisyQuadratic

__all__ = [
    "Model",
    "DataSetModel",
    "LinearRegression",
    "SphereRegression",
    "GaussianLinearRegression",
    "NoisyQuadratic",
]
