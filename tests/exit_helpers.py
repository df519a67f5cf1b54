"""Module-level models and exit tests for tests/test_exit.py (importable, so they pickle
into worker processes and Dask workers)."""

import numba
import numpy as np

from toylab.models import FiniteSum


@numba.njit
def slope_loss(x, row):
    return row[0] * x[0]


@numba.njit
def slope_grad(x, row, out):
    out[0] = row[0]


def tilted(slopes):
    """Per-sample losses c_i x: SGD with B = 1 is a random walk with steps -lr c_i, its SDE
    Brownian motion with drift -mean(c) and variance lr Var(c) per unit time."""
    return FiniteSum(np.asarray(slopes, dtype=float)[:, None], slope_loss, slope_grad, 1, linear=True)


@numba.njit
def beyond_095(x):
    return abs(x[0]) > 0.95


@numba.njit
def outside_interval(x):
    return x[0] <= -0.3 or x[0] >= 0.5


# ---- models whose SDE has exactly the noise a theory assumes ------------------------------
# The per-sample gradients are L'(x) +- w(x): the mean gradient is L', the noise Sigma_1 = w^2.
# (The per-sample losses are L(x) for both: only their mean enters the records.)


@numba.njit
def cosine_loss(x, row):
    return row[1] * (1.0 - np.cos(x[0])) + row[2]


@numba.njit
def additive_grad(x, row, out):
    # L = a (1 - cos x) + L*, noise w^2 = 1
    out[0] = row[1] * np.sin(x[0]) + row[0]


@numba.njit
def loss_driven_grad(x, row, out):
    # the same L, noise w^2 = L(x): Sigma_1 proportional to the loss
    L = row[1] * (1.0 - np.cos(x[0])) + row[2]
    out[0] = row[1] * np.sin(x[0]) + row[0] * np.sqrt(L)


def cosine_well(depth, loss_min, loss_driven):
    """L(x) = depth (1 - cos x) + loss_min: a minimum at 0, saddles at +-pi (L'' = +-depth)."""
    rows = np.array([[1.0, depth, loss_min], [-1.0, depth, loss_min]])
    return FiniteSum(rows, cosine_loss, loss_driven_grad if loss_driven else additive_grad, 1)
