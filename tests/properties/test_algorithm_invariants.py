"""Algorithm invariants, path by path under the same random stream.

Statements:

* SVAG with l = 1 is SGD (eq. 5: c1 = 1, c2 = 0), path by path, for every
  sampler, on the NumPy reference and on the compiled CPU backend;
* GD is SGD with B = n without replacement (the only batch is the data set);
* weight decay enters every algorithm as the same deterministic term:
  step(x; wd) - step(x; 0) = -step_time * wd * x, under the same stream (eq. 7).

Exact up to floating-point rounding (relative 1e-12), and bit for bit where
the arithmetic is the same.
"""

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import GD, NGD, SGD, SVAG, EulerMaruyama, GaussianLinearRegression, SphereRegression, simulate
from toylab._numpy_backend import Draws

from toylab.testing.strategies import datasets, points

seeds = st.integers(0, 2**64 - 1)
PATHS = 16


def stepper(model, algorithm, seed):
    """The NumPy backend's step of ``algorithm`` on PATHS paths: ``step(x, k)``."""
    draws = Draws(SimpleNamespace(model=model, algorithm=algorithm, seed=seed), np.arange(PATHS, dtype=np.uint64))
    state = np.zeros((PATHS, algorithm.state_vectors, model.dim))
    return lambda x, k: algorithm.numpy_step(model, draws, x, state, k)


def run_paths(model, algorithm, x0, steps, seed):
    """States of PATHS paths after each of ``steps`` steps: shape (steps, PATHS, d)."""
    step = stepper(model, algorithm, seed)
    x = np.tile(x0, (PATHS, 1))
    out = []
    for k in range(steps):
        x = step(x, k)
        out.append(x)
    return np.array(out)


@st.composite
def setups(draw, cls=None):
    cls = draw(st.sampled_from([None, SphereRegression])) if cls is None else cls
    model = draw(datasets() if cls is None else datasets(cls))
    x0 = draw(points(model.dim, nonzero=True))
    return model, x0, draw(st.floats(0.01, 0.3)), draw(seeds)


@given(setups(), st.sampled_from(["with_replacement", "without_replacement", "reshuffle"]), st.floats(0.0, 0.5))
def test_svag_l1_is_sgd_path_by_path(setup, sampler, wd):
    model, x0, lr, seed = setup
    B = min(2, model.n_samples)
    sgd = run_paths(model, SGD(lr, B, weight_decay=wd, sampler=sampler), x0, 6, seed)
    svag = run_paths(model, SVAG(lr, B, 1.0, weight_decay=wd, sampler=sampler), x0, 6, seed)
    np.testing.assert_array_equal(svag, sgd)


@settings(max_examples=5)
@given(seeds)
def test_svag_l1_is_sgd_on_compiled_backend(seed):
    """Bit-identical ensemble statistics on backend='cpu' (the path-by-path state is not exposed)."""
    rng = np.random.default_rng(3)
    from toylab import LinearRegression

    model = LinearRegression(rng.normal(size=(6, 2)), rng.normal(size=6))
    x0, times = np.array([1.0, -1.0]), 0.1 * np.arange(1, 6)
    a = simulate(model, SGD(0.1, 2), x0, times, paths=128, seed=seed, progress=False)
    b = simulate(model, SVAG(0.1, 2, 1.0), x0, times, paths=128, seed=seed, progress=False)
    for name in a.observables:
        np.testing.assert_array_equal(a.mean(name), b.mean(name))
        np.testing.assert_array_equal(a.var(name), b.var(name))


@given(setups(), st.floats(0.0, 0.5))
def test_gd_is_full_batch_sgd(setup, wd):
    model, x0, lr, seed = setup
    n = model.n_samples
    sgd = run_paths(model, SGD(lr, n, weight_decay=wd, sampler="without_replacement"), x0, 5, seed)
    gd = run_paths(model, GD(lr, weight_decay=wd), x0, 5, seed)
    scale = np.abs(gd).max() + 1e-300
    # the same sum in another order: equal to rounding
    assert np.max(np.abs(sgd - gd)) <= 1e-12 * scale


def _algorithms(lr, B, wd, sampler):
    return [
        SGD(lr, B, weight_decay=wd, sampler=sampler),
        SVAG(lr, B, 3.0, weight_decay=wd, sampler=sampler),
        NGD(lr, B, weight_decay=wd, sampler="with_replacement" if sampler == "reshuffle" else sampler),
        EulerMaruyama(lr, B, lr / 4, weight_decay=wd),
        GD(lr, weight_decay=wd),
    ]


@given(setups(), st.floats(0.01, 1.0), st.sampled_from(["with_replacement", "without_replacement", "reshuffle"]))
def test_weight_decay_is_one_deterministic_term(setup, wd, sampler):
    """One step from the same x under the same stream differs by exactly -step_time * wd * x."""
    model, x0, lr, seed = setup
    B = min(2, model.n_samples)
    x = np.tile(x0, (PATHS, 1))
    for with_wd, without in zip(_algorithms(lr, B, wd, sampler), _algorithms(lr, B, 0.0, sampler)):
        a = stepper(model, with_wd, seed)(x, 0)
        b = stepper(model, without, seed)(x, 0)
        expected = -with_wd.step_time * wd * x
        assert np.max(np.abs((a - b) - expected)) <= 1e-12 * (np.abs(a).max() + np.abs(b).max()), type(with_wd)


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(
    st.lists(st.floats(0.2, 2.0), min_size=d, max_size=d), points(d), points(d))), st.floats(0.01, 1.0), seeds)
def test_weight_decay_population_model(args, wd, seed):
    h, x_star, x0 = args
    model = GaussianLinearRegression(h, x_star, 0.5)
    x = np.tile(x0, (PATHS, 1))
    for with_wd, without in zip(_algorithms(0.1, 3, wd, "with_replacement"), _algorithms(0.1, 3, 0.0, "with_replacement")):
        a = stepper(model, with_wd, seed)(x, 0)
        b = stepper(model, without, seed)(x, 0)
        assert np.max(np.abs((a - b) + with_wd.step_time * wd * x)) <= 1e-12 * (np.abs(a).max() + np.abs(b).max())
