"""``simulate``: run an ensemble of paths and reduce observables on the fly."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from . import _validate as V

from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .algorithms import Algorithm
    from .models import Model
from ._kernels import DIVERGENCE_BOUND, STAT_BLOCK
from ._stats import paths_in_blocks
from ._time import record_steps
from .algorithms import Algorithm
from .ensemble import Ensemble, package_versions
from .models import Model

__all__ = ["simulate", "BUILTIN_OBSERVABLES", "DIVERGENCE_BOUND", "BACKENDS", "MAX_PATHS"]

#: The most paths one run takes.
MAX_PATHS = 2**40

#: The observables every run records (``noise_trace`` where the algorithm has a
#: batch size): |x|^2, L(x), |grad L(x)|^2, the test functions of higher order
#: |x|^4 and exp(-|x|^2/2) (which tell SVAG from Euler-Maruyama, and SGD from
#: NGD, on linear models, where the first two moments coincide exactly), and
#: tr Sigma_B(x).
BUILTIN_OBSERVABLES = ("sq_norm", "loss", "grad_sq_norm", "norm4", "gauss_bump", "noise_trace")



@dataclass(frozen=True)
class RunSpec:
    """A validated run, as the backends receive it."""

    model: Model
    algorithm: Algorithm
    x0: np.ndarray
    times: np.ndarray
    record_steps: np.ndarray
    paths: int
    seed: int
    observables: tuple
    user_observables: tuple
    chunk_size: int | None
    #: ``exited(x) -> bool`` (``simulate(..., exit=)``), or None
    exit: Callable | None = None
    #: the statistics blocks run, ``(first, end)``; None: all of them
    blocks: tuple | None = None

    @property
    def n_steps(self):
        return int(self.record_steps[-1])

    @property
    def total_blocks(self):
        return -(-self.paths // STAT_BLOCK)

    @property
    def block_range(self):
        """``(first, end)``: the statistics blocks this spec runs (of STAT_BLOCK paths)."""
        return self.blocks if self.blocks is not None else (0, self.total_blocks)

    @property
    def paths_in_range(self):
        first, end = self.block_range
        return paths_in_blocks(first, end - first, self.paths)

    @property
    def n_builtin(self):
        """Built-in observables recorded, before the user's."""
        return len(self.observables) - len(self.user_observables)

    @property
    def index_array_length(self):
        """Length of each path's index arrays: n for the samplers without replacement, else 1."""
        if self.model.finite and getattr(self.algorithm, "sampler", "with_replacement") != "with_replacement":
            return self.model.n_samples
        return 1

    @property
    def trace_factor(self):
        """f with tr Sigma_B = f tr Sigma_1 where ``noise_trace`` is recorded, else -1."""
        if "noise_trace" not in self.observables:
            return -1.0
        return self.model.batch_factor(self.algorithm.batch_size, self.algorithm.sampler)


def _numpy_backend(spec, progress):
    from ._numpy_backend import run

    return run(spec, progress)


def _cpu_backend(spec, progress):
    from ._cpu_backend import run

    return run(spec, progress)


def _cuda_backend(spec, progress):
    from ._cuda_backend import run

    return run(spec, progress)


#: Backend names to the functions that run a :class:`RunSpec`; ``"auto"`` is
#: resolved to ``"cuda"`` where a GPU is usable, else ``"cpu"``.
BACKENDS = {"cpu": _cpu_backend, "numpy": _numpy_backend, "cuda": _cuda_backend}
#: Backends that run compiled kernels (user observables must be ``numba.njit``).
COMPILED_BACKENDS = ("cpu", "cuda")


def resolve_backend(backend):
    """The backend that runs: ``"auto"`` becomes ``"cuda"`` or ``"cpu"``."""
    if not isinstance(backend, str) or backend not in BACKENDS and backend != "auto":
        raise ValueError(f"backend must be one of {tuple(BACKENDS) + ('auto',)}, got {backend!r}")
    if backend == "auto":
        from ._cuda_backend import unavailable_reason

        return "cpu" if unavailable_reason() else "cuda"
    return backend


def simulate(
    model: Model,
    algorithm: Algorithm,
    x0: ArrayLike,
    times: ArrayLike,
    *,
    paths: int = 1000,
    seed: int = 0,
    backend: str = "cpu",
    progress: bool = True,
    observables: dict[str, Callable] | None = None,
    chunk_size: int | None = None,
    exit: Callable | None = None,
    executor=None,
) -> Ensemble:
    """Simulate ``paths`` trajectories of ``algorithm`` on ``model`` from ``x0``.

    Parameters
    ----------
    model : toylab.models.Model
    algorithm : SGD, SVAG, NGD, EulerMaruyama or GD
        ``SDE`` is continuous and refused: simulate it with ``EulerMaruyama``.
    x0 : array, shape (d,)
        Every path starts here.
    times : array
        Increasing SDE times >= 0 (0 allowed) at which observables are
        recorded; each a whole number of the algorithm's steps (``step_time``).
    paths : int
        Number of independent paths.
    seed : int
        In [0, 2**64).  Path p's random stream depends only on (seed, p).
    backend : str
        ``"cpu"`` (default): compiled Numba kernels, parallel over paths;
        ``"numpy"``: the vectorised reference implementation; ``"cuda"``: the
        same kernels on an NVIDIA GPU (``pip install 'toylab[cuda]'``);
        ``"auto"``: cuda where a GPU is usable, else cpu.  With the same seed
        every backend draws the same random numbers, and they agree up to
        rounding.
    progress : bool
        Show a progress bar on stderr for runs longer than about two seconds.
    observables : dict of str to callable, optional
        Extra test functions ``g(x) -> float`` of one point x of shape (d,),
        recorded beside the built-in ``sq_norm`` |x|^2, ``loss`` L(x),
        ``grad_sq_norm`` |grad L(x)|^2, ``norm4`` |x|^4, ``gauss_bump``
        exp(-|x|^2/2) and ``noise_trace`` tr Sigma_B(x).
        The compiled backends take ``numba.njit`` functions only; plain Python
        callables run on ``backend="numpy"``.
    chunk_size : int, optional
        Paths processed at once; results do not depend on it.
    exit : callable, optional
        A first-passage test ``exit(x) -> bool`` of one point x of shape (d,),
        True once a path has left the region of interest (for example
        ``x[0] < a or x[0] > b``).  It is checked after every step, before the
        divergence test, and a path stops at the first step where it holds:
        the ensemble then reports ``survival``, ``mean_exit_time``,
        ``exit_time_stderr``, ``censored``, ``exit_rate`` and
        ``exit_histogram()``, and the observables are means over the paths
        that have not exited.  Exit times are step counts times
        ``algorithm.step_time``: a walk monitored only at its steps misses
        crossings between steps (docs/mathematics.md, "Exit times").  A
        ``numba.njit`` function for the compiled backends (the CUDA backend
        compiles it as a device function); any callable on ``"numpy"``.
        ``exit(x0)`` must be False.
    executor : toylab.experiments.Executor, optional
        Split the paths into ranges of whole merge groups (65536 paths) and
        run them on the executor's workers (local processes or a Dask
        cluster); the merged result is bit-identical to one local run.  The
        model, algorithm and functions must pickle (module-level functions).

    Returns
    -------
    Ensemble
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a toylab model, got {type(model).__name__}")
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm must be a toylab algorithm (SGD, SVAG, ...), got {type(algorithm).__name__}")
    if not algorithm.discrete:
        raise ValueError(
            f"algorithm {type(algorithm).__name__} is the continuous SDE, which simulate cannot step; "
            "use EulerMaruyama(lr, batch_size, dt) to simulate it, or toylab.exact.moments for its exact moments"
        )
    if hasattr(algorithm, "batch_size"):
        model.check_batch(algorithm.batch_size, algorithm.sampler, name="algorithm.batch_size")
    x0 = model.check_point(x0)
    if not np.all(np.abs(x0) <= DIVERGENCE_BOUND):
        raise ValueError(
            f"x0 has a coordinate beyond the divergence bound {DIVERGENCE_BOUND:g} (largest |x0_i| = "
            f"{np.max(np.abs(x0)):.3g}): every path would count as diverged at t = 0"
        )
    times, steps = record_steps(times, algorithm.step_time, f"{type(algorithm).__name__} step_time")
    paths = V.integer("paths", paths, minimum=1)
    if paths > MAX_PATHS:
        raise ValueError(
            f"paths must be <= 2**40 = {MAX_PATHS} per run (path indices are 64-bit and a run of more would "
            f"take days), got {paths}; split the work into runs with different seeds"
        )
    seed = V.integer("seed", seed, minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed must be < 2**64, got {seed}")
    backend = resolve_backend(backend)
    if chunk_size is not None:
        chunk_size = V.integer("chunk_size", chunk_size, minimum=1)
    names = [n for n in BUILTIN_OBSERVABLES if n != "noise_trace" or hasattr(algorithm, "batch_size")]
    user = []
    if observables is not None:
        if not isinstance(observables, dict):
            raise TypeError(f"observables must be a dict of name to function, got {type(observables).__name__}")
        for name, fn in observables.items():
            if not isinstance(name, str) or name in names:
                raise ValueError(f"observables: name {name!r} must be a string other than {tuple(names)}")
            if not callable(fn):
                raise TypeError(f"observables[{name!r}] must be callable, got {type(fn).__name__}")
            if backend == "cuda":
                raise TypeError(
                    f"observables[{name!r}]: backend='cuda' records the built-in observables only; "
                    "user observables run on backend='cpu' (numba.njit functions) or backend='numpy'"
                )
            if backend in COMPILED_BACKENDS and not hasattr(fn, "py_func"):
                raise TypeError(
                    f"observables[{name!r}] must be a numba.njit function of x for backend={backend!r}; "
                    "plain Python callables run on backend='numpy'"
                )
            user.append((name, fn))
    if exit is not None:
        _check_exit(exit, x0, backend)
    spec = RunSpec(
        exit=exit,
        model=model,
        algorithm=algorithm,
        x0=x0,
        times=times,
        record_steps=steps,
        paths=paths,
        seed=seed,
        observables=tuple(names) + tuple(n for n, _ in user),
        user_observables=tuple(user),
        chunk_size=chunk_size,
    )
    acc = _run(spec, backend, progress, executor)
    diverged = paths - acc.count - acc.exited
    if diverged[-1]:
        warnings.warn(
            f"{diverged[-1]} of {paths} paths diverged (state non-finite or above {DIVERGENCE_BOUND:g}); "
            "means are over the surviving paths",
            RuntimeWarning,
            stacklevel=2,
        )
    config = {
        "model": model.describe(),
        "algorithm": algorithm.describe(),
        "x0": x0.tolist(),
        "seed": seed,
        "paths": paths,
        "backend": backend,
    }
    # an exit test or user observable is told apart by its code, not only its name
    from ._kernels.cache import code_hash

    if exit is not None:
        config["exit"] = {"name": getattr(exit, "__name__", type(exit).__name__), "code_hash": code_hash(exit)}
    if user:
        config["observables"] = {name: code_hash(fn) for name, fn in user}
    return Ensemble(
        times=times,
        observables=spec.observables,
        paths=paths,
        count=acc.count,
        diverged=np.asarray(diverged, dtype=np.int64),
        _mean=acc.mean,
        _m2=acc.m2,
        config=config,
        versions=package_versions(),
        exited=acc.exited if exit is not None else None,
        exit_count=int(acc.totals.exit_count[0]),
        _exit_mean=float(acc.totals.exit_mean[0, 0]) * algorithm.step_time,
        _exit_m2=float(acc.totals.exit_m2[0, 0]) * algorithm.step_time**2,
    )


def _check_exit(exit, x0, backend):
    """``exit`` callable, compilable where it must be, and False at x0."""
    if not callable(exit):
        raise TypeError(f"exit must be a function exit(x) -> bool, got {type(exit).__name__}")
    if backend in COMPILED_BACKENDS and not hasattr(exit, "py_func"):
        raise TypeError(
            f"exit must be a numba.njit function of x for backend={backend!r} "
            "(plain Python callables run on backend='numpy')"
        )
    try:
        at_start = exit(x0.copy())
    except Exception as exc:
        raise TypeError(
            f"exit(x) must take one point x of shape {x0.shape} and return a bool; at x0 it raised "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    if not isinstance(at_start, (bool, np.bool_)):
        raise TypeError(f"exit(x) must return a bool, got {type(at_start).__name__} at x0")
    if backend == "cpu":
        _check_exit_compiles(exit, x0)
    if at_start:
        raise ValueError("x0 is outside the region: exit(x0) is True, so every path would exit at t = 0")


#: Code hashes of exit tests known to compile as the kernels compile them.
_COMPILABLE_EXITS = set()


def _check_exit_compiles(exit, x0):
    """Compile ``exit`` alone as the CPU kernels do (without Numba's runtime: no arrays
    allocated), so that a test the kernel cannot take is named, not a kernel's traceback."""
    import numba

    from ._kernels import python_copy
    from ._kernels.cache import code_hash

    key = code_hash(exit)
    if key in _COMPILABLE_EXITS:
        return
    try:
        numba.njit(_nrt=False, error_model="numpy")(python_copy(exit))(x0.copy())
    except Exception as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise TypeError(
            "exit does not compile for the kernels, which run without Numba's runtime (no arrays "
            f"allocated, no lists or strings: loops and arithmetic on x): {first.strip()}"
        ) from None
    _COMPILABLE_EXITS.add(key)


def _run(spec, backend, progress, executor):
    """The Accumulator of ``spec``: here, or split over ``executor``'s workers."""
    from ._stats import MERGE_GROUP, Accumulator

    if executor is None:
        return BACKENDS[backend](spec, progress)
    from .experiments._executor import as_executor

    executor = as_executor(executor)
    n_groups = -(-spec.total_blocks // MERGE_GROUP)
    # contiguous ranges of whole groups: the merge of their groups in order is that of one run
    n_parts = min(n_groups, 4 * (executor.workers or 8))
    cuts = np.linspace(0, n_groups, n_parts + 1).round().astype(int)
    parts = [
        (backend, replace(spec, blocks=(a * MERGE_GROUP, min(b * MERGE_GROUP, spec.total_blocks))))
        for a, b in zip(cuts[:-1], cuts[1:])
        if b > a
    ]
    label = f"simulate {type(spec.algorithm).__name__} [{backend}, {executor.describe()}]"
    groups = [g for part in executor.map(_run_part, parts, label=label, progress=progress) for g in part]
    return Accumulator.from_groups(groups, len(spec.record_steps), len(spec.observables))


def _run_part(part):
    """One worker's range of blocks: its finished merge groups (module level: it is pickled)."""
    backend, spec = part
    return BACKENDS[backend](spec, False).groups
