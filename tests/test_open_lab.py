"""A user's own model and algorithm on every backend; the fast kernels against the general engine.

CUDA runs on Numba's simulator here (conftest), on a GPU with TOYLAB_TEST_GPU=1.
"""

import os
import subprocess
import sys
import textwrap
from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np
import pytest

import toylab
from toylab import GD, NGD, SDE, SGD, SVAG, EulerMaruyama, LinearRegression, SphereRegression, simulate
from toylab import _fast
from toylab.algorithms import Algorithm
from toylab.models import FiniteSum

GPU = os.environ.get("TOYLAB_TEST_GPU") == "1"


# ---- the README's user model: a double well with a per-sample tilt ------------
@numba.njit
def well_loss(x, row):
    u = x[0] * x[0] - 1.0 + row[0] * x[0]
    return 0.5 * u * u


@numba.njit
def well_grad(x, row, out):
    u = x[0] * x[0] - 1.0 + row[0] * x[0]
    out[0] = u * (2.0 * x[0] + row[0])


def double_well():
    data = np.random.default_rng(0).normal(scale=0.3, size=(20, 1))
    return FiniteSum(data, well_loss, well_grad, dim=1)


WELL_ALGS = [
    SGD(0.05, 4),
    SGD(0.05, 4, sampler="without_replacement", weight_decay=0.1),
    SVAG(0.05, 4, 4, sampler="reshuffle"),
    NGD(0.05, 4, sampler="without_replacement"),
    EulerMaruyama(0.05, 4, 0.025, weight_decay=0.1),
    GD(0.05),
]


@pytest.mark.parametrize("alg", WELL_ALGS, ids=lambda a: f"{type(a).__name__}-{getattr(a, 'sampler', '')}")
def test_user_model_agrees_on_every_backend(alg):
    """The README's FiniteSum model: numpy, cpu and cuda (the simulator in CI)
    draw the same numbers and agree to rounding, diverged paths included."""
    model = double_well()
    times = [0, 5 * alg.step_time, 10 * alg.step_time]
    paths = 6400 if GPU else 70
    runs = {
        b: simulate(model, alg, [0.5], times, paths=paths, seed=3, backend=b, progress=False)
        for b in ("numpy", "cpu", "cuda")
    }
    for b in ("cpu", "cuda"):
        np.testing.assert_array_equal(runs[b].count, runs["numpy"].count)
        for name in ("loss", "sq_norm", "grad_sq_norm", "norm4"):
            np.testing.assert_allclose(runs[b].mean(name), runs["numpy"].mean(name), rtol=1e-12, atol=1e-14)
        if hasattr(alg, "batch_size"):
            np.testing.assert_allclose(runs[b].mean("noise_trace"), runs["numpy"].mean("noise_trace"), rtol=1e-11)


def test_user_model_from_python():
    """loss, grad and noise_cov from Python are the per-sample functions'
    means, and Sigma_B the definition of Section 2."""
    model = double_well()
    x = np.array([0.7])
    rows = model.data
    losses = [well_loss(x, r) for r in rows]
    grads = []
    for r in rows:
        out = np.zeros(1)
        well_grad(x, r, out)
        grads.append(out)
    grads = np.array(grads)
    assert model.loss(x) == pytest.approx(np.mean(losses), rel=1e-14)
    np.testing.assert_allclose(model.grad(x), grads.mean(axis=0), rtol=1e-14)
    centred = grads - grads.mean(axis=0)
    np.testing.assert_allclose(model.noise_cov(x, 4), centred.T @ centred / len(rows) / 4, rtol=1e-13)
    # a stack of points, along the last axis
    X = np.array([[0.7], [-0.2], [1.3]])
    np.testing.assert_allclose(model.loss(X), [model.loss(p) for p in X], rtol=1e-14)


def test_plain_python_functions_are_accepted():
    """Functions in the Numba subset without the decorator run the same."""
    model = double_well()
    plain = FiniteSum(model.data, well_loss.py_func, well_grad.py_func, dim=1)
    a = simulate(model, SGD(0.05, 4), [0.5], [0.5], paths=64, seed=1, progress=False)
    b = simulate(plain, SGD(0.05, 4), [0.5], [0.5], paths=64, seed=1, progress=False)
    np.testing.assert_array_equal(a.mean("loss"), b.mean("loss"))


# ---- a FiniteSum linear regression against the exact moments of the built-in -----
@numba.njit
def lr_loss(x, row):
    r = -row[x.shape[0]]
    for c in range(x.shape[0]):
        r += row[c] * x[c]
    return 0.5 * r * r


@numba.njit
def lr_grad(x, row, out):
    r = -row[x.shape[0]]
    for c in range(x.shape[0]):
        r += row[c] * x[c]
    for c in range(x.shape[0]):
        out[c] = row[c] * r


def user_regression(n=12, d=3, seed=4):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    y = A @ rng.normal(size=d) + 0.5 * rng.normal(size=n)
    return LinearRegression(A, y), FiniteSum(np.column_stack([A, y]), lr_loss, lr_grad, dim=d, linear=True)


@pytest.mark.parametrize(
    "alg",
    [SGD(0.1, 2), SVAG(0.1, 2, 4, sampler="without_replacement"), NGD(0.1, 2), EulerMaruyama(0.1, 2, 0.05)],
    ids=lambda a: type(a).__name__,
)
def test_user_linear_regression_matches_the_exact_moments(alg):
    """Monte Carlo of the user model within 4 standard errors of
    exact.moments of the built-in LinearRegression on the same data."""
    builtin, user = user_regression()
    x0 = np.array([1.0, -0.5, 0.3])
    times = [alg.step_time * 4, alg.step_time * 12]
    ens = simulate(user, alg, x0, times, paths=20_000, seed=7, progress=False)
    exact = toylab.exact.moments(builtin, alg, x0, times)
    for name in ("sq_norm", "loss", "grad_sq_norm", "noise_trace"):
        gap = np.abs(ens.mean(name) - exact.mean(name))
        assert np.all(gap < 4 * ens.stderr(name)), (name, gap / ens.stderr(name))


@pytest.mark.parametrize("alg", [SGD(0.1, 3), SVAG(0.1, 2, 3, sampler="reshuffle"), NGD(0.1, 2), SDE(0.1, 2, weight_decay=0.2)],
                         ids=lambda a: type(a).__name__)
def test_linear_finite_sum_has_the_builtins_exact_moments(alg):
    """A FiniteSum declared linear: its G_i, c_i read off the gradients give
    the built-in's exact moments to rounding."""
    builtin, user = user_regression(n=6, d=2)
    x0 = np.array([1.0, -0.5])
    times = [0.3, 0.9]
    a = toylab.exact.moments(builtin, alg, x0, times)
    b = toylab.exact.moments(user, alg, x0, times)
    for name in ("sq_norm", "loss", "grad_sq_norm", "noise_trace"):
        np.testing.assert_allclose(b.mean(name), a.mean(name), rtol=1e-10)


def test_exact_refuses_a_finite_sum_not_declared_linear():
    with pytest.raises(ValueError, match="linear=True"):
        toylab.exact.moments(double_well(), SGD(0.1, 2), [0.5], [0.1])


# ---- kernels keyed by code, not by class names -----------------------------------
class MyLR(LinearRegression):
    pass


@numba.njit
def shifted_loss(x, row):
    r = -row[x.shape[0]] + 0.25
    for c in range(x.shape[0]):
        r += row[c] * x[c]
    return 0.5 * r * r


@numba.njit
def shifted_grad(x, row, out):
    r = -row[x.shape[0]] + 0.25
    for c in range(x.shape[0]):
        r += row[c] * x[c]
    for c in range(x.shape[0]):
        out[c] = row[c] * r


class ShiftedLR(LinearRegression):
    """Targets moved by -0.25: other per-sample functions."""

    _sample_loss = staticmethod(shifted_loss)
    _sample_grad = staticmethod(shifted_grad)

    def loss(self, x):
        return LinearRegression(self.A, self.y - 0.25).loss(x)

    def grad(self, x):
        return LinearRegression(self.A, self.y - 0.25).grad(x)


def test_a_subclass_runs_as_its_parent():
    builtin, _ = user_regression()
    sub = MyLR(builtin.A, builtin.y)
    assert _fast.choose(sub, SGD(0.1, 2)) == "LinearRegression"
    x0 = np.array([1.0, -0.5, 0.3])
    a = simulate(builtin, SVAG(0.1, 2, 3), x0, [0.2, 0.4], paths=64, seed=2, progress=False)
    b = simulate(sub, SVAG(0.1, 2, 3), x0, [0.2, 0.4], paths=64, seed=2, progress=False)
    np.testing.assert_array_equal(a.mean("loss"), b.mean("loss"))


def test_a_subclass_with_other_code_runs_its_own():
    """A subclass that changes the per-sample functions leaves the fast
    kernels (keyed by code) and runs its own functions in the general engine."""
    builtin, _ = user_regression()
    sub = ShiftedLR(builtin.A, builtin.y)
    assert _fast.choose(sub, SGD(0.1, 2)) is None
    moved = LinearRegression(builtin.A, builtin.y - 0.25)
    x0 = np.array([1.0, -0.5, 0.3])
    a = simulate(moved, SGD(0.1, 2), x0, [0.2, 0.4], paths=64, seed=2, progress=False)
    b = simulate(sub, SGD(0.1, 2), x0, [0.2, 0.4], paths=64, seed=2, progress=False)
    np.testing.assert_allclose(b.mean("loss"), a.mean("loss"), rtol=1e-12)


# ---- the fast kernels against the general engine, on the same stream ---------------
FAST_CASES = [
    (cls, noise, alg)
    for cls in (LinearRegression, SphereRegression)
    for noise, alg in [
        ("per_sample", SGD(0.05, 3, weight_decay=0.1)),
        ("per_sample", SGD(0.05, 3, sampler="reshuffle")),
        ("per_sample", SVAG(0.05, 8, 4)),
        ("per_sample", SVAG(0.05, 2, 2, sampler="without_replacement")),
        ("per_sample", NGD(0.05, 2)),
        ("moments", NGD(0.05, 2, sampler="without_replacement")),
        ("moments", EulerMaruyama(0.05, 2, 0.02, weight_decay=0.1)),
        ("per_sample", GD(0.05)),
    ]
]


@pytest.mark.parametrize(
    "cls,noise,alg", FAST_CASES, ids=lambda v: getattr(v, "__name__", None) or (v if isinstance(v, str) else type(v).__name__)
)
def test_fast_kernels_equal_the_general_engine(monkeypatch, cls, noise, alg):
    """Each fast kernel (the CPU's vectors, the batch indices of 8 steps, the
    moment-factor noise) against its reference with the same seed: the same
    draws, equal to rounding, at d = 10 (the lanes) and d = 3.  The reference
    is the general engine, except for the moment-factor noise, a draw of the
    same law from r <= d(d+1)/2 + d normals instead of n: the NumPy backend,
    which draws it the same way (``DataSetModel.noise_unit``)."""
    rng = np.random.default_rng(5)
    for d in (3, 10):
        A = rng.normal(size=(40, d))
        model = cls(A, A @ rng.normal(size=d) + 0.3 * rng.normal(size=40), noise=noise)
        assert _fast.choose(model, alg) == cls.__name__
        x0 = rng.normal(size=d)
        times = [alg.step_time * 3, alg.step_time * 17]
        fast = simulate(model, alg, x0, times, paths=70, seed=9, progress=False)
        if noise == "moments":
            general = simulate(model, alg, x0, times, paths=70, seed=9, progress=False, backend="numpy")
        else:
            monkeypatch.setattr(_fast, "ENABLED", False)
            general = simulate(model, alg, x0, times, paths=70, seed=9, progress=False)
            monkeypatch.setattr(_fast, "ENABLED", True)
        np.testing.assert_array_equal(fast.count, general.count)
        for name in fast.observables:
            np.testing.assert_allclose(fast.mean(name), general.mean(name), rtol=1e-9, atol=1e-12)


# ---- an algorithm with state, defined outside toylab ---------------------------------
HeavyBallParams = namedtuple("HeavyBallParams", ["lr", "mu", "batch_size", "sampler"])


@dataclass(frozen=True)
class HeavyBall(Algorithm):
    """b <- mu b + g, x <- x - lr b: one state vector, written as a user would."""

    lr: float
    batch_size: int
    mu: float
    weight_decay: float = 0.0
    sampler: str = "with_replacement"
    draws_batches = True
    n_batches = 1
    state_vectors = 1

    def numpy_step(self, model, draws, x, state, k):
        state[:, 0] = self.mu * state[:, 0] + draws.batch_grad(x, k, 0)
        return x - self.lr * state[:, 0]

    @staticmethod
    def compiled_step(jit, model):
        batch_grad = model.batch_grad

        @jit
        def step(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2):
            batch_grad(x, data, params.batch_size, params.sampler, 0, k, path, seed, perm1, buf, cur, t1, g)
            for c in range(x.shape[0]):
                state[0, c] = params.mu * state[0, c] + g[c]
                x[c] = x[c] - params.lr * state[0, c]

        return step

    def kernel_params(self, model):
        return HeavyBallParams(self.lr, self.mu, np.int64(self.batch_size), np.int64(0))


def test_an_algorithm_with_state_runs_on_every_backend():
    """A user's algorithm with a velocity vector runs without any change to the
    engine; its state starts at zero on every path (mu = 0 is SGD)."""
    model = double_well()
    times = [0.0, 0.25, 0.5]
    runs = {b: simulate(model, HeavyBall(0.05, 4, 0.6), [0.5], times, paths=70, seed=3, backend=b, progress=False)
            for b in ("numpy", "cpu", "cuda")}
    for b in ("cpu", "cuda"):
        np.testing.assert_allclose(runs[b].mean("loss"), runs["numpy"].mean("loss"), rtol=1e-12)
    sgd = simulate(model, SGD(0.05, 4), [0.5], times, paths=70, seed=3, progress=False)
    zero = simulate(model, HeavyBall(0.05, 4, 0.0), [0.5], times, paths=70, seed=3, progress=False)
    np.testing.assert_array_equal(zero.mean("loss"), sgd.mean("loss"))
    assert not np.allclose(runs["cpu"].mean("loss"), sgd.mean("loss"))


# ---- bad input -----------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(data=np.zeros(3)), ValueError, "data"),
        (dict(data=np.zeros((0, 1))), ValueError, "data must have at least one row"),
        (dict(loss=3.0), TypeError, "loss must be a function"),
        (dict(grad=None), TypeError, "grad must be a function"),
        (dict(dim=0), ValueError, "dim"),
        (dict(grad=numba.njit(lambda x, row, out: None)), ValueError, "wrote nothing"),
        (dict(loss=numba.njit(lambda x, row: x[3])), TypeError, "loss\\(x, row\\)"),
    ],
)
def test_bad_finite_sum_input_names_the_argument(kwargs, exc, match):
    args = dict(data=np.ones((4, 1)), loss=well_loss, grad=well_grad, dim=1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        FiniteSum(args.pop("data"), args.pop("loss"), args.pop("grad"), **args)


# ---- compile once per machine, and say so --------------------------------------------
USER_RUN = textwrap.dedent(
    """
    import numba, numpy as np
    from toylab import SGD, simulate
    from toylab.models import FiniteSum

    @numba.njit
    def loss(x, row):
        u = x[0] * x[0] - 1.0 + row[0] * x[0]
        return 0.5 * u * u

    @numba.njit
    def grad(x, row, out):
        u = x[0] * x[0] - 1.0 + row[0] * x[0]
        out[0] = u * (2.0 * x[0] + row[0])

    model = FiniteSum(np.linspace(-0.5, 0.5, 9)[:, None], loss, grad, dim=1)
    print(simulate(model, SGD(0.05, 2), [0.5], [0.5], paths=64, seed=1, progress=False).mean("loss")[0])
    """
)


def test_user_kernels_compile_once_per_machine_and_say_so(tmp_path):
    """A fresh cache: the first process prints one line while the kernel
    compiles (with the progress bar off too); the second loads it from the
    disk cache, silently, with the same result."""
    script = tmp_path / "user_run.py"
    script.write_text(USER_RUN)
    # the code under test, not an installed copy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TOYLAB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=root)
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
            for _ in range(2)]
    assert "toylab: compiling SGD x FiniteSum for cpu, once per machine" in runs[0].stderr
    assert "compiling" not in runs[1].stderr
    assert runs[0].stdout == runs[1].stdout


def test_kernels_is_installed_inside_the_package(tmp_path):
    """After pip install, toylab._kernels imports and the top-level name
    ``kernels`` (a PyPI package of that name exists) does not."""
    check = "import importlib.util as u; print(u.find_spec('toylab._kernels') is not None, u.find_spec('kernels'))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.stdout.split() == ["True", "None"], out.stdout + out.stderr
