"""The NumPy reference backend: readable, vectorised over a chunk of paths.

This is the specification the compiled kernels are tested against.  It draws
exactly the random numbers the compiled kernels draw (``toylab._kernels.rng``), in the
same order, so with the same seed the backends agree path by path up to
floating-point rounding.

Random streams of one step k of path p (see ``toylab._kernels.rng``):

* batch j in {1, 2} of a finite data set, kind ``KIND_BATCHj``:
  with replacement, B bounded integers in [0, n);
  without replacement, B draws of a partial Fisher-Yates shuffle of the path's
  index array (draw i uniform in [0, n - i), swapped into position i);
  under reshuffling, at the first step of epoch e a partial Fisher-Yates
  shuffle of the first (n // B) B positions from stream (e, ``KIND_EPOCHj``),
  whose consecutive blocks of B are the epoch's batches;
* batch j of a population model: ``grad_normals(B)`` standard normals;
* Gaussian noise (NGD, Euler-Maruyama): ``noise_dim`` normals of ``KIND_NOISE``.
"""

from __future__ import annotations

import numpy as np

from ._kernels import DIVERGENCE_BOUND
from ._kernels import rng as R

from ._progress import Progress
from ._stats import STAT_BLOCK, Accumulator, block_stats

# Floats held at once per chunk, which bounds the chunk's memory (~64 MB).
_CHUNK_FLOATS = 8_000_000


def default_chunk(model, paths):
    # Per path: the noise's normals and their d-vectors, and on a finite data
    # set the n per-sample gradients that tr Sigma_1 (the noise_trace record)
    # forms, whatever noise construction the steps use.
    n = model.n_samples or 0
    per_path = model.dim * (max(model.noise_dim, n) + 2) + n
    return max(1, min(paths, _CHUNK_FLOATS // per_path))


def whole_blocks(chunk):
    """``chunk`` rounded up to whole statistics blocks (results never depend on it)."""
    return -(-chunk // STAT_BLOCK) * STAT_BLOCK


class Draws:
    """The random draws of a chunk of paths, as every algorithm's ``numpy_step`` takes them.

    ``batch_grad(x, k, which)``: the gradient of batch ``which`` (0 or 1) of
    step k, drawn by the algorithm's sampler (module docstring);
    ``noise(x, k)``: a draw of N(0, Sigma_1(x)) from ``noise_dim`` normals of
    stream (k, ``KIND_NOISE``).  The samplers without replacement keep each
    path's index array here from step to step.
    """

    def __init__(self, spec, path_ids):
        self.model = spec.model
        self.alg = spec.algorithm
        self.seed = spec.seed
        self.ids = path_ids
        m = self.model
        if m.finite and getattr(self.alg, "sampler", "with_replacement") != "with_replacement":
            # Each path's index array; shuffles start from whatever order it
            # holds, which leaves the result a uniform draw.
            self.perm = [np.tile(np.arange(m.n_samples), (len(path_ids), 1)) for _ in range(self.alg.n_batches)]

    def _shuffle(self, perm, step, kind, count):
        n = self.model.n_samples
        draws = R.bounded_ints(self.seed, self.ids, step, kind, n - np.arange(count))
        rows = np.arange(len(perm))
        for i in range(count):
            j = i + draws[:, i]
            perm[rows, i], perm[rows, j] = perm[rows, j], perm[rows, i].copy()

    def batch_grad(self, x, k, which):
        m, alg = self.model, self.alg
        B = alg.batch_size
        kind = (R.KIND_BATCH1, R.KIND_BATCH2)[which]
        if not m.finite:
            z = R.normals(self.seed, self.ids, k, kind, m.grad_normals(B))
            return m.sampled_batch_grad(x, z, B)
        if alg.sampler == "with_replacement":
            idx = R.bounded_ints(self.seed, self.ids, k, kind, np.full(B, m.n_samples))
        elif alg.sampler == "without_replacement":
            perm = self.perm[which]
            self._shuffle(perm, k, kind, B)
            idx = perm[:, :B]
        else:  # reshuffle
            per_epoch = m.n_samples // B
            epoch, pos = divmod(k, per_epoch)
            perm = self.perm[which]
            if pos == 0:
                self._shuffle(perm, epoch, (R.KIND_EPOCH1, R.KIND_EPOCH2)[which], per_epoch * B)
            idx = perm[:, pos * B : (pos + 1) * B]
        return m.batch_grad(x, idx)

    def noise(self, x, k):
        z = R.normals(self.seed, self.ids, k, R.KIND_NOISE, self.model.noise_dim)
        return self.model.noise_unit(x, z)


def observe(spec, x):
    """Observables of points x (P, d): array (P, O) in ``spec.observables`` order."""
    m, alg = spec.model, spec.algorithm
    cols = []
    for name in spec.observables[: spec.n_builtin]:
        if name == "sq_norm":
            cols.append(np.sum(x * x, axis=-1))
        elif name == "loss":
            cols.append(m.loss(x))
        elif name == "grad_sq_norm":
            g = m.grad(x)
            cols.append(np.sum(g * g, axis=-1))
        elif name == "norm4":
            cols.append(np.sum(x * x, axis=-1) ** 2)
        elif name == "gauss_bump":
            cols.append(np.exp(-0.5 * np.sum(x * x, axis=-1)))
        elif name == "noise_trace":
            cols.append(m.noise_trace(x, alg.batch_size, alg.sampler))
    for _, fn in spec.user_observables:
        cols.append(np.array([float(fn(xi)) for xi in x]))
    return np.stack(cols, axis=-1) if len(x) else np.zeros((0, len(spec.observables)))


def exit_mask(spec, x):
    """``spec.exit`` at each row of x (P, d): bool array (P,)."""
    fn = spec.exit
    return np.fromiter((bool(fn(xi)) for xi in x), dtype=bool, count=len(x))


def run(spec, progress):
    """Run ``spec``'s blocks chunk by chunk; returns the Accumulator."""
    steps = spec.record_steps
    first_block, end_block = spec.block_range
    acc = Accumulator(len(steps), len(spec.observables), first_block=first_block)
    chunk = whole_blocks(spec.chunk_size or default_chunk(spec.model, spec.paths))
    n_obs = len(spec.observables)
    label = f"simulate {type(spec.algorithm).__name__} [numpy]"
    end_path = min(end_block * STAT_BLOCK, spec.paths)
    with Progress(spec.paths_in_range * max(spec.n_steps, 1), enabled=progress, label=label) as bar:
        for start in range(first_block * STAT_BLOCK, end_path, chunk):
            ids = np.arange(start, min(start + chunk, end_path), dtype=np.uint64)
            draws = Draws(spec, ids)
            x = np.tile(spec.x0, (len(ids), 1))
            # the algorithm's state vectors beyond x, zeroed at the start
            state = np.zeros((len(ids), spec.algorithm.state_vectors, spec.model.dim))
            alive = np.ones(len(ids), dtype=bool)
            # the step at which each path exited (0: not exited)
            exit_step = np.zeros(len(ids), dtype=np.int64)
            nb = -(-len(ids) // STAT_BLOCK)
            counts = np.zeros((nb, len(steps)), dtype=np.int64)
            means = np.zeros((nb, len(steps), n_obs))
            m2s = np.zeros((nb, len(steps), n_obs))
            r = 0

            def record(r):
                values = np.zeros((len(ids), n_obs))
                values[alive] = observe(spec, x[alive])
                counts[:, r], means[:, r], m2s[:, r] = block_stats(values, alive)

            while r < len(steps) and steps[r] == 0:
                record(r)
                r += 1
            for k in range(spec.n_steps):
                with np.errstate(all="ignore"):
                    x = spec.algorithm.numpy_step(spec.model, draws, x, state, k)
                    if spec.exit is not None:
                        # tested before divergence, as the kernels do
                        left = np.zeros(len(ids), dtype=bool)
                        left[alive] = exit_mask(spec, x[alive])
                        exit_step[left] = k + 1
                        alive &= ~left
                    # ``not <=`` also catches NaN.
                    bad = ~np.all(np.abs(x) <= DIVERGENCE_BOUND, axis=1)
                alive &= ~bad
                x[~alive] = spec.x0  # stopped paths are parked, never averaged in
                state[~alive] = 0.0
                while r < len(steps) and steps[r] == k + 1:
                    record(r)
                    r += 1
                bar.update(len(ids))
            acc.add_blocks(counts, means, m2s, exits=exit_blocks(exit_step, steps))
    return acc


def exit_blocks(exit_step, steps):
    """Per-block exit statistics of a chunk from each path's exit step (0: none).

    The exit steps' mean and centred sum of squares are Welford's update over
    each block's paths in path order, the kernels' very operations, so they are
    bit for bit the compiled backends' (a block holds at most 64 exits).
    """
    nb = -(-len(exit_step) // STAT_BLOCK)
    pad = nb * STAT_BLOCK - len(exit_step)
    padded = np.concatenate([exit_step, np.zeros(pad, dtype=np.int64)]).reshape(nb, STAT_BLOCK)
    by_record = ((padded[:, :, None] > 0) & (padded[:, :, None] <= steps[None, None, :])).sum(axis=1)
    count = np.zeros((nb, 1), dtype=np.int64)
    mean = np.zeros((nb, 1, 1))
    m2 = np.zeros((nb, 1, 1))
    for b in np.flatnonzero(padded.max(axis=1) > 0):
        n, mu, sq = 0, 0.0, 0.0
        for k in padded[b][padded[b] > 0].tolist():
            n += 1
            delta = k - mu
            mu += delta / n
            sq += delta * (k - mu)
        count[b, 0], mean[b, 0, 0], m2[b, 0, 0] = n, mu, sq
    return by_record.astype(np.int64), count, mean, m2
