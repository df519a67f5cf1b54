"""Shared fixtures and the hypothesis profiles.

CUDA: the CUDA tests run on numba's simulator (``NUMBA_ENABLE_CUDASIM=1``, set
here) at tiny sizes; ``TOYLAB_TEST_GPU=1`` runs them on a GPU at larger sizes.

Profiles: ``ci`` (default; bounded, derandomised, no deadline because numba
compiles on first call) and ``thorough`` (many random examples); choose with
``TOYLAB_HYPOTHESIS_PROFILE=thorough``.  A failing example prints its
``@reproduce_failure`` blob so it can be replayed.
"""

import os

# CUDA tests run on numba's CUDA simulator unless TOYLAB_TEST_GPU=1 asks for a
# real GPU (and larger sizes).  Numba reads this when it is first imported.
if os.environ.get("TOYLAB_TEST_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Every field is stated: a profile inherits unset fields from the profile
# loaded when it is registered, and hypothesis loads its own derandomised
# "ci" profile when the environment variable CI is set.
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("TOYLAB_HYPOTHESIS_PROFILE", "ci"))


def tiny_regression(n=4, d=2, seed=0, cls=None):
    from toylab import LinearRegression

    cls = cls or LinearRegression
    rng = np.random.default_rng(seed)
    return cls(rng.normal(size=(n, d)), rng.normal(size=n))


@pytest.fixture
def regression():
    return tiny_regression(n=8, d=3, seed=0)


@pytest.fixture
def gaussian():
    from toylab import GaussianLinearRegression

    return GaussianLinearRegression([1.0, 0.5, 2.0], [1.0, 0.0, -1.0], 0.3)


@pytest.fixture
def quadratic():
    from toylab import NoisyQuadratic

    H = np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.1], [0.0, 0.1, 0.5]])
    C = np.array([[0.3, 0.1, 0.0], [0.1, 0.2, 0.05], [0.0, 0.05, 0.4]])
    return NoisyQuadratic(H, C)
