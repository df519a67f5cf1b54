"""Batch samplers: how the indices of a batch are drawn from a finite data set.

* ``"with_replacement"`` (the paper's default): B indices i.i.d. uniform.
* ``"without_replacement"``: a uniform B-subset, fresh every step.
* ``"reshuffle"``: random reshuffling (Remark 4.5): each epoch draws a uniform
  permutation and walks it in consecutive blocks of B; the last ``n mod B``
  indices of each permutation are left out, so an epoch is ``n // B`` steps.

A batch's marginal is a uniform B-subset under both the last two, so its noise
covariance carries the finite-population factor (n - B)/(n - 1):

    Sigma_B(x) = Sigma_1(x) / B                       with replacement,
    Sigma_B(x) = (n - B)/(n - 1) * Sigma_1(x) / B      without (and reshuffle),

with ``Sigma_1(x) = (1/n) sum_i g_i g_i^T - grad L grad L^T``.
"""

from __future__ import annotations

SAMPLERS = ("with_replacement", "without_replacement", "reshuffle")


def check_sampler(sampler, *, allowed=SAMPLERS, name="sampler"):
    if not isinstance(sampler, str):
        raise TypeError(f"{name} must be a string, one of {allowed}, got {type(sampler).__name__}")
    if sampler not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {sampler!r}")
    return sampler


def batch_factor(sampler, batch_size, n_samples=None):
    """The scalar f with Sigma_B = f * Sigma_1 (see the module docstring).

    ``n_samples=None`` means an infinite population, where every sampler is
    sampling with replacement.
    """
    if sampler == "with_replacement" or n_samples is None:
        return 1.0 / batch_size
    if n_samples == 1:
        return 0.0
    return (n_samples - batch_size) / ((n_samples - 1) * batch_size)
