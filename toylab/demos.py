"""The fixed, synthetic demo models of the command line and the reproduced figures."""

from __future__ import annotations

import numpy as np


def demo_regression(n=64, d=5, seed=0):
    """The linear regression used by the reproduced figures: fixed, synthetic."""
    from .models import LinearRegression

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    x_star = rng.normal(size=d)
    y = A @ x_star + 0.5 * rng.normal(size=n)
    return LinearRegression(A, y)


def demo_sphere(n=8, d=3, seed=1):
    """The scale-invariant regression of the equilibrium figures: fixed, synthetic."""
    from .models import SphereRegression

    rng = np.random.default_rng(seed)
    return SphereRegression(rng.normal(size=(n, d)), 0.5 * rng.normal(size=n))


def demo_gaussian():
    """The online linear regression of the command line: three inputs of variances 1, 0.5, 2."""
    from .models import GaussianLinearRegression

    return GaussianLinearRegression([1.0, 0.5, 2.0], [1.0, 0.0, -1.0], 0.3)


def demo_quadratic():
    """The noisy quadratic of the stationary figure: diagonal H and C."""
    from .models import NoisyQuadratic

    return NoisyQuadratic(np.diag([1.0, 0.5, 2.0]), np.diag([0.3, 0.2, 0.4]))


#: The starting point of the equilibrium figures on ``demo_sphere``.
SPHERE_X0 = (1.0, 0.5, -0.5)
#: The command line's ``--model`` names to the demo models.
MODELS = {"linear": demo_regression, "sphere": demo_sphere, "gaussian": demo_gaussian, "quadratic": demo_quadratic}
