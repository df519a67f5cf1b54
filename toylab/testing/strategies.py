"""Hypothesis strategies for tiny data sets, models, points, hyperparameters and samplers.

Data sets are small enough (n <= 5, B <= 2) that every batch, and every pair
of batches, can be enumerated (:func:`toylab.testing.one_step_distribution`):
the exact expectations a property compares against.  Needs ``hypothesis``
(``pip install "toylab[test]"``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from toylab import LinearRegression, SphereRegression

__all__ = [
    "entries",
    "datasets",
    "points",
    "samplers",
    "hyperparameters",
    "finite_sums",
    "finite_setups",
    "sphere_setups",
]

#: entries of data and points: bounded, no subnormals, so that relative
#: tolerances of 1e-10 measure the identities and not the rounding of tiny numbers.
entries = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 6))


@st.composite
def datasets(draw, cls=LinearRegression, n=(2, 5), d=(1, 3)):
    """A model of class ``cls`` on a drawn data set (A, y) of n points in d dimensions."""
    n_ = draw(st.integers(*n))
    d_ = draw(st.integers(*d))
    A = draw(hnp.arrays(np.float64, (n_, d_), elements=entries))
    y = draw(hnp.arrays(np.float64, (n_,), elements=entries))
    return cls(A, y)


def points(d, nonzero=False):
    """A point of R^d (bounded away from 0 when ``nonzero``, for scale-invariant losses)."""
    strat = hnp.arrays(np.float64, (d,), elements=entries)
    if nonzero:
        strat = strat.filter(lambda x: np.linalg.norm(x) > 0.1)
    return strat


@st.composite
def finite_setups(draw, cls=LinearRegression, samplers=("with_replacement", "without_replacement"), n=(2, 5), lr=(0.01, 0.5)):
    """(model, x, lr, B, weight_decay, sampler) on a drawn tiny data set."""
    model = draw(datasets(cls, n=n))
    x = draw(points(model.dim, nonzero=model.scale_invariant))
    sampler = draw(st.sampled_from(samplers))
    B = draw(st.integers(1, min(2, model.n_samples)))
    lr = draw(st.floats(*lr))
    wd = draw(st.one_of(st.just(0.0), st.floats(0.01, 1.0)))
    return model, x, lr, B, wd, sampler


def sphere_setups(samplers=("with_replacement", "without_replacement")):
    """:func:`finite_setups` on a ``SphereRegression`` (points away from 0)."""
    return finite_setups(SphereRegression, samplers)


def samplers(reshuffle=False):
    """A batch sampler name (``'reshuffle'`` too when asked)."""
    names = ["with_replacement", "without_replacement"] + (["reshuffle"] if reshuffle else [])
    return st.sampled_from(names)


@st.composite
def hyperparameters(draw, lr=(0.01, 0.5), max_batch=2, l=(1.0, 16.0)):
    """A dict of ``lr``, ``batch_size`` (1..max_batch), ``weight_decay`` (0 or in [0.01, 1]),
    ``momentum`` (0 or in [0.1, 0.9]) and SVAG's ``l``."""
    return {
        "lr": draw(st.floats(*lr)),
        "batch_size": draw(st.integers(1, max_batch)),
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(0.01, 1.0))),
        "momentum": draw(st.one_of(st.just(0.0), st.floats(0.1, 0.9))),
        "l": draw(st.floats(*l)),
    }


def _tilted_well_loss(x, row):
    # a per-sample double well, tilted by the sample: l_i(x) = (|x|^2 - 1)^2 / 4 + row . x
    s = 0.0
    t = 0.0
    for j in range(x.shape[0]):
        s += x[j] * x[j]
        t += row[j] * x[j]
    return 0.25 * (s - 1.0) * (s - 1.0) + t


def _tilted_well_grad(x, row, out):
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] * x[j]
    for j in range(x.shape[0]):
        out[j] = (s - 1.0) * x[j] + row[j]


@st.composite
def finite_sums(draw, n=(2, 5), d=(1, 3)):
    """A user model, ``FiniteSum``: per-sample tilted double wells on a drawn data set
    (non-linear, so its noise is not the linear models')."""
    from toylab.models import FiniteSum

    n_ = draw(st.integers(*n))
    d_ = draw(st.integers(*d))
    data = draw(hnp.arrays(np.float64, (n_, d_), elements=entries))
    return FiniteSum(data, _tilted_well_loss, _tilted_well_grad, d_)
