"""The general engine: one path's functions, composed from a model's and an algorithm's.

Everything here is written once as plain scalar code that never allocates, and
compiled with the decorator a target gives: ``numba.njit`` for the CPU
(``kernels.cpu``), ``numba.cuda.jit(device=True)`` for the GPU
(``kernels.cuda``).  A model or an algorithm reaches every backend through
these signatures, the built-in ones included; the specialised kernels of
``kernels.fast`` stand apart and are tested equal to this engine.

A model's compiled functions (``data`` is the model's named tuple of arrays,
``toylab.models.Model.kernel_data``; ``t``, ``t2`` and ``out`` are scratch and
output vectors of length d):

* ``grad(x, data, t, out)``: grad L(x) into ``out``
* ``batch_grad(x, data, B, sampler, which, k, path, seed, perm, buf, cur, t, out)``:
  the gradient of batch ``which`` (0 or 1: SVAG draws two) of size B at step k,
  drawn from the streams of ``kernels.rng`` exactly as the NumPy backend draws
  it; ``sampler`` is a code of ``SAMPLER_CODES``, ``perm`` the path's index
  array for the samplers without replacement, ``buf`` and ``cur`` the cursor
  of ``rng.draw_bounded``
* ``noise(x, data, k, path, seed, t, t2, out)``: a draw of N(0, Sigma_1(x))
  from the ``KIND_NOISE`` stream of step k
* ``record(x, data, t, out) -> (L(x), tr Sigma_1(x))`` with grad L(x) into
  ``out``: what the records take; or, from which the engine composes it,
  ``loss(x, data) -> float`` (L(x)) and ``sigma1_trace(x, data, t, t2) ->
  float`` (tr Sigma_1(x)).  A finite sum gives ``record``, whose three sums
  share one pass over the data.

An algorithm's compiled step, built by its ``compiled_step(jit, model)``
from the model's functions (``params`` is its named tuple of
hyperparameters, ``state`` its per-path state vectors beyond x, one row each,
zeroed at the start of a path; ``t1, t2, g, g2`` scratch vectors):

* ``step(x, state, k, path, seed, data, params, perm1, perm2, buf, cur, t1, t2, g, g2)``
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from . import DIVERGENCE_BOUND

#: Sampler names to the codes the compiled batch draws take.
SAMPLER_CODES = {"with_replacement": 0, "without_replacement": 1, "reshuffle": 2}


def build_path(jit, bound=DIVERGENCE_BOUND):
    """``start(x, state, x0, perm1, perm2)`` puts a path at x0 with a zero state
    and identity index arrays; ``finite(x)`` is False once a coordinate is
    non-finite or above ``bound`` (the path has diverged)."""

    @jit
    def start(x, state, x0, perm1, perm2):
        for c in range(x.shape[0]):
            x[c] = x0[c]
        for s in range(state.shape[0]):
            for c in range(state.shape[1]):
                state[s, c] = 0.0
        for i in range(perm1.shape[0]):
            perm1[i] = i
            perm2[i] = i

    @jit
    def finite(x):
        for c in range(x.shape[0]):
            if not (abs(x[c]) <= bound):
                return False
        return True

    return start, finite


def build_record(jit, model):
    """``record(x, data, t, out) -> (L(x), tr Sigma_1(x))`` with grad L(x) in ``out``:
    the model's own where it has one (one pass over a finite data set), else
    from its ``loss``, ``grad`` and ``sigma1_trace``."""
    if getattr(model, "record", None) is not None:
        return model.record
    loss, grad, sigma1_trace = model.loss, model.grad, model.sigma1_trace

    @jit
    def record(x, data, t, out):
        trace = sigma1_trace(x, data, out, t)
        grad(x, data, t, out)
        return loss(x, data), trace

    return record


def build_observe(jit, model):
    """``observe(x, data, t1, t2, trace_factor, obs)``: the built-in observables
    sq_norm |x|^2, loss L(x), grad_sq_norm |grad L|^2, norm4 |x|^4, gauss_bump
    exp(-|x|^2/2) and, where ``trace_factor >= 0``, noise_trace
    tr Sigma_B = trace_factor tr Sigma_1(x) (the batch factor of
    ``toylab.samplers.batch_factor``)."""
    record = build_record(jit, model)
    exp = math.exp

    @jit
    def observe(x, data, t1, t2, trace_factor, obs):
        s = 0.0
        for c in range(x.shape[0]):
            s += x[c] * x[c]
        obs[0] = s
        obs[3] = s * s
        obs[4] = exp(-0.5 * s)
        loss, trace = record(x, data, t2, t1)
        obs[1] = loss
        s = 0.0
        for c in range(x.shape[0]):
            s += t1[c] * t1[c]
        obs[2] = s
        if trace_factor >= 0.0:
            obs[5] = trace_factor * trace

    return observe


def chain_observables(jit, functions):
    """One compiled ``user(x, obs, first)`` writing g(x) of each function in turn
    to obs[first], obs[first + 1], ... (a no-op for none)."""

    @jit
    def none(x, obs, first):
        pass

    def link(fn, rest):
        @jit
        def user(x, obs, first):
            obs[first] = fn(x)
            rest(x, obs, first + 1)

        return user

    user = none
    for fn in reversed(tuple(functions)):
        user = link(fn, user)
    return user


def build_exit(jit, exit_test=None):
    """``exited(x) -> bool``: the user's exit test compiled with ``jit``, or, without
    one, a constant False (inlined, so a run without an exit test pays nothing)."""
    if exit_test is not None:
        return jit(exit_test)

    @jit
    def never(x):
        return False

    return never


def compose(jit, model, compiled_step, observables=(), exit_test=None):
    """The per-path functions of one (model, algorithm, observables, exit test) on one target.

    ``model``: the namespace of the model's compiled functions (module
    docstring); ``compiled_step``: the algorithm's ``compiled_step``;
    ``observables``: functions g(x) in the Numba subset, compiled here with
    ``jit`` (the CPU only); ``exit_test``: a function ``exited(x) -> bool`` in
    the Numba subset (``simulate(..., exit=)``), or None.
    """
    start, finite = build_path(jit)
    return SimpleNamespace(
        step=compiled_step(jit, model),
        observe=build_observe(jit, model),
        user=chain_observables(jit, [jit(fn) for fn in observables]),
        start=start,
        finite=finite,
        exited=build_exit(jit, exit_test),
    )


def sampler_code(sampler):
    return np.int64(SAMPLER_CODES[sampler])
