"""The compiled CPU backend: same streams as the NumPy reference, determinism, caching."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

import toylab
from toylab._kernels import rng as R
from toylab._kernels.fast.cpu import MODELS as CPU_MODELS
from toylab import GD, NGD, SGD, SVAG, Ensemble, EulerMaruyama, LinearRegression, SphereRegression, simulate
from toylab._fast import model_data, noise_scratch_length
from toylab._kernels.cache import cache_dir

from .test_models import MODELS

X0 = np.array([0.9, -0.4, 1.2])


def algorithms(model):
    samplers = model.samplers
    noisy = [s for s in samplers if s != "reshuffle"]
    if getattr(model, "noise_method", None) == "moments":
        # the noise construction is all that differs from the per-sample models
        return [NGD(0.1, 2, sampler=noisy[-1]), EulerMaruyama(0.1, 3, 0.05, weight_decay=0.1, sampler=noisy[0])]
    out = [GD(0.1, weight_decay=0.05)]
    for s in samplers:
        out += [SGD(0.1, 2, sampler=s), SVAG(0.1, 2, 4, weight_decay=0.1, sampler=s)]
    for s in [s for s in samplers if s != "reshuffle"]:
        out += [NGD(0.1, 2, sampler=s), EulerMaruyama(0.1, 3, 0.05, weight_decay=0.1, sampler=s)]
    return out


CASES = [(m, a) for m in MODELS for a in algorithms(m)]
IDS = [f"{m!r}-{type(a).__name__}-{getattr(a, 'sampler', '')}".replace(" ", "") for m, a in CASES]


@pytest.mark.parametrize("model,alg", CASES, ids=IDS)
def test_cpu_matches_numpy_to_rounding(model, alg):
    """Same seed, same streams: the two backends follow the same paths."""
    kw = dict(paths=150, seed=11, progress=False)
    times = [0.0, 0.2, 0.5]
    cpu = simulate(model, alg, X0, times, backend="cpu", **kw)
    ref = simulate(model, alg, X0, times, backend="numpy", **kw)
    np.testing.assert_array_equal(cpu.count, ref.count)
    np.testing.assert_array_equal(cpu.diverged, ref.diverged)
    for name in ref.observables:
        np.testing.assert_allclose(cpu.mean(name), ref.mean(name), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(cpu.stderr(name), ref.stderr(name), rtol=1e-8, atol=1e-13)


def test_divergence_counts_match_numpy():
    from .test_simulate import test_diverging_paths_are_counted_not_averaged  # noqa: F401

    A = np.ones((10, 1))
    A[0, 0] = 1000.0
    from toylab import LinearRegression

    model = LinearRegression(A, np.zeros(10))
    runs = []
    for backend in ("cpu", "numpy"):
        with pytest.warns(RuntimeWarning):
            runs.append(simulate(model, SGD(0.05, 1), [1.0], [2.5, 5.0], paths=300, seed=3, progress=False, backend=backend))
    np.testing.assert_array_equal(runs[0].diverged, runs[1].diverged)
    assert runs[0].diverged[-1] > 0
    # the surviving paths' statistics stay finite, |x|^4 and its variance included
    for ens in runs:
        for name in ens.observables:
            assert np.all(np.isfinite(ens.mean(name))) and np.all(np.isfinite(ens.stderr(name))), name


SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from toylab import SphereRegression, SVAG, simulate
    rng = np.random.default_rng(0)
    model = SphereRegression(rng.normal(size=(12, 3)), rng.normal(size=12))
    ens = simulate(model, SVAG(0.1, 3, 2, weight_decay=0.1, sampler="reshuffle"), [1.0, 0.5, -0.3],
                   [0.5, 1.0], paths=1000, seed=5, progress=False, chunk_size=int(sys.argv[2]))
    ens.save(sys.argv[1])
    """
)


def test_bit_identical_across_thread_counts_and_chunks(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    results = []
    for threads, chunk in [(1, 64), (2, 64), (2, 640), (1, 1000)]:
        out = tmp_path / f"t{threads}-{chunk}.npz"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONPATH=os.getcwd())
        subprocess.run([sys.executable, str(script), str(out), str(chunk)], check=True, env=env, cwd=os.getcwd())
        results.append(Ensemble.load(out))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0]._mean, other._mean)
        np.testing.assert_array_equal(results[0]._m2, other._m2)
        np.testing.assert_array_equal(results[0].count, other.count)


def test_compiled_once_per_type_never_per_hyperparameter():
    from toylab._kernels.fast import cpu

    rng = np.random.default_rng(1)
    model = SphereRegression(rng.normal(size=(9, 3)), rng.normal(size=9))
    for lr, B, l, sampler, paths in [(0.1, 2, 2, "with_replacement", 10), (0.05, 5, 7.5, "reshuffle", 70)]:
        simulate(model, SVAG(lr, B, l, sampler=sampler), X0, [lr / l, 3 * lr / l], paths=paths, progress=False)
    kernel, cached = cpu.get_kernel("SphereRegression", "SVAG", (), 6)
    assert len(kernel.signatures) == 1 and cached
    assert kernel is cpu.get_kernel("SphereRegression", "SVAG", (), 6)[0]
    generated = kernel.py_func.__code__.co_filename
    assert generated.startswith(str(cache_dir())) and "cache=True" in open(generated).read()


@njit
def _first_coordinate(x):
    return x[0]


@njit
def _second_coordinate(x):
    return x[1]


def test_kernels_with_user_observables_are_keyed_by_their_code():
    """A kernel that calls user observables is made once per process for each
    (model, algorithm, observables, place of the first), and cached on disk
    under a key that hashes the observables' code, so a sweep over
    hyperparameters with the same observables compiles once per machine.
    (Nothing is compiled here: Numba compiles on first call.)"""
    from toylab._kernels.fast import cpu

    one = cpu.get_kernel("LinearRegression", "SGD", (_first_coordinate,), 5)[0]
    assert one is cpu.get_kernel("LinearRegression", "SGD", [_first_coordinate], 5)[0]
    assert one is not cpu.get_kernel("LinearRegression", "SGD", (_second_coordinate,), 5)[0]
    assert one is not cpu.get_kernel("LinearRegression", "SGD", (_first_coordinate,), 6)[0]
    assert one is not cpu.get_kernel("LinearRegression", "NGD", (_first_coordinate,), 5)[0]
    assert one is not cpu.get_kernel("LinearRegression", "SGD")[0]


def test_unknown_kernel_names_are_refused():
    from toylab._kernels.fast import cpu

    with pytest.raises(ValueError, match="no compiled kernel for model"):
        cpu.get_kernel("Banana", "SGD")
    with pytest.raises(ValueError, match="no compiled kernel for algorithm"):
        cpu.get_kernel("LinearRegression", "Adam")


CACHED = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tests.test_models import MODELS
    from toylab import GD, SGD, simulate
    x0 = np.array([0.9, -0.4, 1.2])
    cases = {"sphere": (MODELS[1], SGD(0.1, 2)), "gauss": (MODELS[3], GD(0.1, weight_decay=0.05))}
    for name in sys.argv[1:]:
        model, alg = cases[name]
        cpu = simulate(model, alg, x0, [0.1, 0.3], paths=70, seed=2, progress=False, backend="cpu")
        ref = simulate(model, alg, x0, [0.1, 0.3], paths=70, seed=2, progress=False, backend="numpy")
        np.testing.assert_allclose(cpu.mean("loss"), ref.mean("loss"), rtol=1e-11)
    """
)


def test_kernels_compiled_in_different_processes_load_together(tmp_path):
    """Each kernel compiled (and cached) by its own process, then both loaded
    from the cache into a third: each must still call its own model's code."""
    script = tmp_path / "cached.py"
    script.write_text(CACHED)
    env = dict(os.environ, TOYLAB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.getcwd())
    for args in (["sphere"], ["gauss"], ["sphere", "gauss"]):
        subprocess.run([sys.executable, str(script), *args], check=True, env=env, cwd=os.getcwd())


@pytest.mark.parametrize("cls", ["LinearRegression", "SphereRegression"])
def test_moment_sums_formed_ahead_serve_any_order(cls):
    """The CPU forms the moment sums (W, w) of SUMS_AT_ONCE steps at once and
    keeps them in its scratch under a stamp (first step, path, seed).  One
    scratch, calls in scrambled order with paths interleaved, a path above
    2**33, seeds that differ only above bit 32, and x changed between calls
    of one group of steps: each draw is the model's own from its stream."""
    rng = np.random.default_rng(5)
    A = rng.normal(size=(97, 4))
    y = A @ rng.normal(size=4) + 0.3 * rng.normal(size=97)
    model = getattr(toylab, cls)(A, y, noise="moments")
    data = model_data(model)
    draw = CPU_MODELS[cls]["noise_unit"]
    d = model.dim
    t2 = np.full(noise_scratch_length(model), np.nan)
    seeds = [9, 9 + 2**32]
    paths = [0, 3, 2**33 + 1]
    calls = [(seeds[i % 2], paths[i % 3], int(k)) for i, k in enumerate(rng.permutation(np.repeat(np.arange(11), 2)))]
    # then within one group of steps: the same path, then another seed, then another path
    calls += [(9, 3, 5), (9, 3, 6), (9, 3, 4), (9, 3, 7), (9 + 2**32, 3, 6), (9 + 2**32, 0, 5), (9, 3, 5)]
    for seed, path, step in calls:
        x = rng.normal(size=d)
        out = np.empty(d)
        draw(x, data, np.uint64(seed), path, step, np.zeros(2), np.zeros(d), t2, out)
        z = R.normals(seed, [path], step, R.KIND_NOISE, model.noise_dim)[0]
        ref = model.noise_unit(x, z)
        np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("cls", ["LinearRegression", "SphereRegression"])
@pytest.mark.parametrize("noise", ["per_sample", "moments"])
@pytest.mark.parametrize("d", [4, 12, 16, 21])
def test_noise_scratch_forms_agree(cls, noise, d):
    """The noise draw has two forms chosen by the length of its scratch: the
    CPU's (normals drawn a chunk at a time; the per-sample sums in vectors,
    two rows a pass where d <= 16 and row by row above; the moment columns
    summed at once) and the GPU's (each normal as used, d numbers of scratch).
    Both draw the same normals and agree to rounding (they sum in other
    orders).  n = 131 crosses two chunks of normals and ends on half a
    Box-Muller pair and on one row of a pass."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(131, d))
    y = A @ rng.normal(size=d) + 0.3 * rng.normal(size=131)
    model = getattr(toylab, cls)(A, y, noise=noise)
    data = model_data(model)
    draw = CPU_MODELS[cls]["noise_unit"]
    d = model.dim
    long_scratch = noise_scratch_length(model)
    assert long_scratch > d
    for x in rng.normal(size=(5, d)):
        outs = []
        for length in (long_scratch, d):
            out = np.empty(d)
            draw(x, data, 9, 17, 4, np.zeros(2), np.zeros(d), np.zeros(length), out)
            outs.append(out)
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-14 * np.abs(outs[1]).max())
        # and both are the model's own draw from the stream's normals
        z = R.normals(9, [17], 4, R.KIND_NOISE, model.noise_dim)[0]
        np.testing.assert_allclose(outs[0], model.noise_unit(x, z), rtol=1e-11, atol=1e-13 * np.abs(outs[0]).max())


@pytest.fixture(scope="module")
def scalar_models():
    """The models' functions in the GPU's scalar form (no 8-lane vectors), compiled for the CPU."""
    from numba import njit

    from toylab._kernels.fast import target

    return target.build(njit(error_model="numpy")).models


@pytest.mark.parametrize("targets", ["zero", "noisy", "interpolated"])
@pytest.mark.parametrize("n,d", [(400, 3), (7, 4), (200, 7), (300, 10), (500, 12)])
def test_sphere_records_match_the_model(scalar_models, targets, n, d):
    """SphereRegression's loss and tr Sigma_1 as the kernels compute them, about
    the least-squares point in O(d^2) and O(d^4), against the model's sums
    over the n samples, in both compiled forms.  The quartic factor has r4 =
    6 to 90 rows: below 32 (d <= 7 but d = 7's noisy targets) the vector form
    runs one pass of masked loads; at 35, 55, 65, 78 and 90, passes of 32
    whose last overlaps the one before; n = 7 < d(d+1)/2 gives a factor of
    low rank."""
    rng = np.random.default_rng(n + d)
    A = rng.normal(size=(n, d))
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    y = {"zero": np.zeros(n), "noisy": A @ u + 0.3 * rng.normal(size=n), "interpolated": A @ u}[targets]
    model = SphereRegression(A, y)
    data = model_data(model)
    for ns in (CPU_MODELS["SphereRegression"], scalar_models["SphereRegression"]):
        for x in rng.normal(size=(4, d)) * np.array([[0.3], [1.0], [3.0], [10.0]]):
            loss = ns["loss"](x, data, np.zeros(2))
            trace = ns["sigma1_trace"](x, data, np.zeros(2), np.zeros(d), np.zeros(d))
            assert loss == pytest.approx(model.loss(x), rel=1e-12)
            assert trace == pytest.approx(model.sigma1_trace(x), rel=1e-11)


@pytest.mark.parametrize("d", [3, 8, 10, 12, 16, 21])
def test_linear_records_match_the_model(scalar_models, d):
    """LinearRegression's loss and tr Sigma_1 as the kernels compute them,
    about the least-squares point in O(d^2) (e^T H e and e^T Q e: on the CPU
    in two 8-lane vectors for d <= 16, the second masked or, at d <= 8,
    empty; d = 21 the scalar loops), against the model's sums over the n
    samples, in both compiled forms; at x_ls + 1e-7 delta too, where L - L_ls
    is 1e-13 to 1e-12 of L and a sum over the samples would lose it to
    cancellation."""
    rng = np.random.default_rng(60 + d)
    A = rng.normal(size=(90, d))
    model = LinearRegression(A, A @ rng.normal(size=d) + 0.3 * rng.normal(size=90))
    data = model_data(model)
    x_ls = np.linalg.lstsq(A, model.y, rcond=None)[0]
    loss_ls = model.loss(x_ls)
    points = list(rng.normal(size=(3, d)) * np.array([[0.3], [3.0], [30.0]]))
    near = x_ls + 1e-7 * rng.normal(size=d)
    for ns in (CPU_MODELS["LinearRegression"], scalar_models["LinearRegression"]):
        for x in points:
            loss = ns["loss"](x, data, np.zeros(2))
            trace = ns["sigma1_trace"](x, data, np.zeros(2), np.zeros(d), np.zeros(d))
            assert loss == pytest.approx(model.loss(x), rel=1e-12)
            assert trace == pytest.approx(model.sigma1_trace(x), rel=1e-11)
        # the excess loss e^T H e / 2 to 1e-6 of itself: H's quadratic form exactly
        excess = ns["loss"](near, data, np.zeros(2)) - data.loss_ls
        e = near - x_ls
        assert excess == pytest.approx(0.5 * e @ (A.T @ A / 90) @ e, rel=1e-6)
        assert 0 < excess < 1e-10 * loss_ls


@pytest.mark.parametrize("d", [3, 10, 16, 21])
def test_gradient_in_vectors_is_the_scalar_gradient(scalar_models, d):
    """LinearRegression's H x - b in two vector registers (d <= 16) adds the
    same products in the same order as the scalar loop the GPU runs: the same
    bits, so the backends' full-gradient steps stay identical."""
    rng = np.random.default_rng(d)
    A = rng.normal(size=(50, d))
    model = LinearRegression(A, A @ rng.normal(size=d) + 0.1 * rng.normal(size=50))
    data = model_data(model)
    for x in rng.normal(size=(5, d)) * 3.0:
        outs = [np.empty(d), np.empty(d)]
        for ns, out in zip((CPU_MODELS["LinearRegression"], scalar_models["LinearRegression"]), outs):
            ns["grad"](x, data, np.zeros(2), out)
        np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("cls", ["LinearRegression", "SphereRegression"])
@pytest.mark.parametrize("d", [2, 4, 6, 12])
def test_moment_sums_in_vectors_are_the_scalar_sums(scalar_models, cls, d):
    """The CPU forms the moment sums (W, w) = sum_k zeta_k (S_k, s_k) of four
    steps in vectors (kernels/fast/models.py::moment_rows); the scalar loops add
    the same terms in the same order: the sums they leave in the scratch are
    the same bits.  d = 2, 4, 6, 12 give r = e = d(d+1)/2 + d of 5, 14, 27
    and 90: no whole vector of 8, then tails of 6, 3 and 2 numbers (4-lane
    vectors, whole and masked), and for the scalar loops r mod 4 of 1, 2 and
    3 (remainder rows after the passes of four)."""
    rng = np.random.default_rng(40 + d)
    A = rng.normal(size=(150, d))
    model = getattr(toylab, cls)(A, A @ rng.normal(size=d) + 0.3 * rng.normal(size=150), noise="moments")
    data = model_data(model)
    e = d * (d + 1) // 2 + d
    x = rng.normal(size=d)
    sums = []
    for ns in (CPU_MODELS[cls], scalar_models[cls]):
        t2 = np.full(noise_scratch_length(model), np.nan)
        ns["noise_unit"](x, data, np.uint64(9), 17, 5, np.zeros(2), np.zeros(d), t2, np.empty(d))
        sums.append(t2[d + 4 : d + 4 + 4 * e])
    assert np.isfinite(sums[0]).all()
    np.testing.assert_array_equal(sums[0], sums[1])
