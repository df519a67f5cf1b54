"""Hypothesis strategies for tiny data sets, points and hyperparameters.

Data sets are small enough (n <= 5, B <= 2) that every batch, and every pair
of batches, can be enumerated: the exact expectations the properties compare
against.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from toylab import LinearRegression, SphereRegression

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
    return finite_setups(SphereRegression, samplers)
