"""Everything one compilation target needs, built from the single source.

``build(jit)`` compiles the generator (``kernels.rng``), every model's
functions (``kernels.fast.models``), every model's steps and observables
(``kernels.fast.steps``) and the per-path helpers with one decorator: ``numba.njit``
for the CPU (``kernels.fast.cpu``), ``numba.cuda.jit(device=True)`` for the GPU
(``kernels.fast.cuda``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from .. import DIVERGENCE_BOUND
from . import models as _models
from .. import rng as _rng
from . import steps as _steps


def build(jit, hot=None, lanes=None):
    """Compile everything with ``jit``; ``hot`` (default ``jit``) for what runs
    every step: the steps, the batch gradient, the generator and the
    per-sample functions.  ``lanes``: ``kernels.fast.simd`` on the CPU, None on
    the GPU (``kernels.fast.models.build``)."""
    hot = jit if hot is None else hot
    if lanes is None:
        rng = _rng.build(hot, math)
    else:
        # floor as a double: Numba's math.floor gives an int64, whose
        # conversion back to a double the CPU's vectors lack (AVX2) and make
        # a lane at a time; the values are the same
        cpu_math = SimpleNamespace(sqrt=math.sqrt, floor=np.floor)
        rng = _rng.build(hot, cpu_math, (lanes.f64_bits, lanes.bits_f64))
    models = _models.build(jit, math, rng, hot, lanes)
    start_path, finite = _steps.build_path(jit, DIVERGENCE_BOUND)
    steps, advance, observe = {}, {}, {}
    for name, ns in models.items():
        steps[name], advance[name], observe[name] = _steps.build(
            jit, ns, name, finite, hot, lanes, DIVERGENCE_BOUND
        )
    return SimpleNamespace(
        rng=rng,
        models=models,
        steps=steps,
        advance=advance,
        observe=observe,
        start_path=start_path,
        finite=finite,
    )
