"""toylab: when does SGD behave like its SDE?  Exact toy models and ensemble simulators."""
from . import exact, theory
from .algorithms import GD, NGD, SDE, SGD, SVAG, EulerMaruyama
from .ensemble import Ensemble
from .models import GaussianLinearRegression, LinearRegression, NoisyQuadratic, SphereRegression

__version__ = "0.1.0"
from .simulate import simulate

__all__ = [
    "simulate",
    "Ensemble",
    "exact",
    "theory",
    "SGD",
    "SVAG",
    "NGD",
    "EulerMaruyama",
    "GD",
    "SDE",
    "LinearRegression",
    "GaussianLinearRegression",
    "SphereRegression",
    "NoisyQuadratic",
]
