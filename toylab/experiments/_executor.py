"""Run the independent configurations of a sweep: serially, in a process pool, or on Dask.

Every configuration carries its own seed, so a sweep's result does not depend
on where or in which order its configurations run.
"""

from __future__ import annotations

from .. import _validate as V
from .._progress import Progress

__all__ = ["Executor", "run_sweep"]


class Executor:
    """Where a sweep's configurations run.

    Parameters
    ----------
    workers : int, optional
        Run in a local pool of this many processes (``None``: serially, in
        this process).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``"tcp://host:8786"``); the
        supported way to run beyond one machine.  Needs ``pip install
        'toylab[dask]'``.  Exclusive with ``workers``.
    """

    def __init__(self, workers=None, scheduler=None):
        if workers is not None and scheduler is not None:
            raise ValueError("give workers (a local process pool) or scheduler (a Dask cluster), not both")
        if workers is not None:
            workers = V.integer("workers", workers, minimum=1)
        if scheduler is not None and not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be a Dask scheduler address (str), got {type(scheduler).__name__}")
        self.workers = workers
        self.scheduler = scheduler

    def describe(self):
        if self.scheduler is not None:
            return f"dask:{self.scheduler}"
        return f"processes:{self.workers}" if self.workers else "serial"

    def map(self, fn, configs, label="sweep", progress=True):
        """``[fn(c) for c in configs]``, in order; ``fn`` must be a module-level function."""
        configs = list(configs)
        with Progress(len(configs), enabled=progress, label=label, unit="runs") as bar:
            if self.scheduler is not None:
                return self._dask(fn, configs, bar)
            if self.workers and self.workers > 1 and len(configs) > 1:
                return self._pool(fn, configs, bar)
            out = []
            for c in configs:
                out.append(fn(c))
                bar.update(1)
            return out

    def _pool(self, fn, configs, bar):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: numba's threading layer and a forked parent do not mix
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            out = []
            for result in pool.map(fn, configs):
                out.append(result)
                bar.update(1)
            return out

    def _dask(self, fn, configs, bar):
        try:
            from dask.distributed import Client
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise RuntimeError("scheduler= needs Dask distributed: pip install 'toylab[dask]'") from err
        with Client(self.scheduler, set_as_default=False) as client:
            futures = client.map(fn, configs, pure=False)
            out = []
            for future in futures:  # gathered in order
                out.append(future.result())
                bar.update(1)
            return out


def as_executor(executor):
    """``executor`` checked to be an :class:`Executor`; None is the serial one."""
    if executor is None:
        return Executor()
    if not isinstance(executor, Executor):
        raise TypeError(f"executor must be a toylab.experiments.Executor, got {type(executor).__name__}")
    return executor


def run_sweep(fn, configs, executor=None, label: str = "sweep", progress: bool = True) -> list:
    """Run ``fn`` over ``configs`` with ``executor`` (serial when None)."""
    return as_executor(executor).map(fn, configs, label=label, progress=progress)
