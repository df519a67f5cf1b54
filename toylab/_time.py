"""SDE time bookkeeping shared by the simulators and the exact moments."""

from __future__ import annotations

import numpy as np

from . import _validate as V


def check_times(times):
    """Requested SDE times: a non-empty, strictly increasing 1-D array, >= 0."""
    times = V.as_array("times", np.atleast_1d(np.asarray(times, dtype=float)), ndim=1)
    if times.size == 0:
        raise ValueError("times must contain at least one time")
    if times[0] < 0:
        raise ValueError(f"times must be >= 0, got times[0]={times[0]}")
    if np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing")
    return times


def record_steps(times, step_time, what="the algorithm's step_time"):
    """The step index at which each requested SDE time falls.

    A time that is not a whole number of steps is an error naming the time and
    the step size, because comparing algorithms at unequal SDE times would be
    silently wrong.
    """
    times = check_times(times)
    k = times / step_time
    kr = np.rint(k)
    bad = np.abs(k - kr) > 1e-9 * np.maximum(1.0, kr)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"times[{i}]={float(times[i])!r} is not a whole number of steps of size {float(step_time)!r} "
            f"({what}); choose times that are multiples of it"
        )
    return times, kr.astype(np.int64)
