"""Input checks shared by the public API: each error names the argument."""

from __future__ import annotations

import numbers

import numpy as np


def as_array(name, value, *, ndim=None, shape=None, allow_nonfinite=False):
    """``value`` as a float64 array, checked for dimension, shape and finiteness."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        want = tuple(shape)
        if arr.shape != want:
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def real(name, value, *, positive=False, nonnegative=False):
    """A finite real scalar."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def integer(name, value, *, minimum=None):
    """An integer (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def symmetric(name, value, dim=None):
    """A finite symmetric square matrix."""
    arr = as_array(name, value, ndim=2)
    if arr.shape[0] != arr.shape[1] or (dim is not None and arr.shape[0] != dim):
        want = "square" if dim is None else f"of shape ({dim}, {dim})"
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    scale = max(1.0, float(np.max(np.abs(arr))))
    if not np.allclose(arr, arr.T, rtol=0, atol=1e-12 * scale):
        raise ValueError(f"{name} must be symmetric")
    return 0.5 * (arr + arr.T)
