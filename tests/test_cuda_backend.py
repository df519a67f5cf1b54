"""The CUDA backend against the CPU backend and exact moments.

By default these run on numba's CUDA simulator at tiny sizes (see conftest);
``TOYLAB_TEST_GPU=1`` runs them on a GPU with more paths.
"""

import os

import numpy as np
import pytest

from toylab import NGD, SGD, SVAG, EulerMaruyama, LinearRegression, NoisyQuadratic, exact, simulate

from .test_cpu_backend import CASES, IDS
from .test_simulate import assert_within_4_stderr

ON_GPU = os.environ.get("TOYLAB_TEST_GPU") == "1"
SCALE = 100 if ON_GPU else 1
X0 = np.array([0.9, -0.4, 1.2])


@pytest.mark.parametrize("model,alg", CASES, ids=IDS)
def test_cuda_matches_cpu_with_the_same_seed(model, alg):
    kw = dict(paths=70 * SCALE, seed=21, progress=False)
    times = [0.0, 0.1, 0.3]
    gpu = simulate(model, alg, X0, times, backend="cuda", **kw)
    cpu = simulate(model, alg, X0, times, backend="cpu", **kw)
    np.testing.assert_array_equal(gpu.count, cpu.count)
    np.testing.assert_array_equal(gpu.diverged, cpu.diverged)
    for name in cpu.observables:
        np.testing.assert_allclose(gpu.mean(name), cpu.mean(name), rtol=1e-12, atol=1e-14)
    assert gpu.config["backend"] == "cuda"


@pytest.mark.parametrize("alg", [SGD(0.1, 2), SVAG(0.1, 2, 2), NGD(0.1, 2), EulerMaruyama(0.1, 2, 0.05)],
                         ids=lambda a: type(a).__name__)
def test_cuda_matches_exact_moments(regression, alg):
    times = [0.0, 0.2, 0.4]
    ens = simulate(regression, alg, X0, times, paths=640 * SCALE, seed=8, progress=False, backend="cuda")
    assert_within_4_stderr(ens, exact.moments(regression, alg, X0, times))


def test_cuda_divergence_counts_match_cpu():
    A = np.ones((10, 1))
    A[0, 0] = 1000.0
    model = LinearRegression(A, np.zeros(10))
    runs = []
    for backend in ("cuda", "cpu"):
        with pytest.warns(RuntimeWarning, match="paths diverged"):
            runs.append(simulate(model, SGD(0.05, 1), [1.0], [1.0, 2.5], paths=128 * SCALE, seed=3,
                                 progress=False, backend=backend))
    np.testing.assert_array_equal(runs[0].diverged, runs[1].diverged)
    assert runs[0].diverged[-1] > 0


def test_cuda_is_deterministic(quadratic):
    runs = [simulate(quadratic, NGD(0.1, 2), X0, [0.3], paths=100 * SCALE, seed=4, progress=False, backend="cuda")
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0]._mean, runs[1]._mean)
    np.testing.assert_array_equal(runs[0]._m2, runs[1]._m2)


def test_auto_picks_cuda_when_usable_and_cpu_otherwise(monkeypatch, quadratic):
    from toylab import _cuda_backend

    ens = simulate(quadratic, SGD(0.1, 2), X0, [0.1], paths=10, progress=False, backend="auto")
    assert ens.config["backend"] == "cuda"
    monkeypatch.setattr(_cuda_backend, "unavailable_reason", lambda: "no GPU here")
    ens = simulate(quadratic, SGD(0.1, 2), X0, [0.1], paths=10, progress=False, backend="auto")
    assert ens.config["backend"] == "cpu"


def test_cuda_without_a_gpu_fails_with_one_sentence(monkeypatch, quadratic):
    from toylab import _cuda_backend

    monkeypatch.setattr(_cuda_backend, "unavailable_reason", lambda: "backend='cuda' needs an NVIDIA GPU.")
    with pytest.raises(RuntimeError, match=r"^backend='cuda' needs an NVIDIA GPU\.$"):
        simulate(quadratic, SGD(0.1, 2), X0, [0.1], paths=10, progress=False, backend="cuda")
    # and the real message, where numba.cuda finds no device, is one sentence naming the extra
    monkeypatch.undo()
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False)
    reason = _cuda_backend.unavailable_reason()
    assert "toylab[cuda]" in reason and reason.count(". ") == 0


def test_cuda_refuses_what_it_cannot_run(quadratic):
    from numba import njit

    @njit
    def first(x):
        return x[0]

    with pytest.raises(TypeError, match="backend='cuda' records the built-in observables only"):
        simulate(quadratic, SGD(0.1, 2), X0, [0.1], paths=10, progress=False, backend="cuda",
                 observables={"x0": first})
    big = NoisyQuadratic(np.eye(65), np.eye(65))
    with pytest.raises(ValueError, match="dimension d <= 64"):
        simulate(big, SGD(0.1, 2), np.ones(65), [0.1], paths=10, progress=False, backend="cuda")
