"""Tools for property-testing SGD and its SDE with toylab.

* :func:`one_step_distribution` — every possible next state of SGD, SVAG or GD
  from a point, with its probability, by enumerating the batches of a tiny
  data set: exact expectations, no formula in between.
* :mod:`toylab.testing.enumerate` — the enumeration itself (batches, batch
  gradients, increments, states after several steps, moments of equally
  likely samples).
* :mod:`toylab.testing.strategies` — hypothesis strategies for tiny data
  sets, models (``FiniteSum`` ones included), points, hyperparameters and
  samplers (needs ``hypothesis``).

docs/property_testing.md shows a lemma of the paper tested with them; toylab's
own property tests (``tests/properties``) use them.
"""

from .enumerate import batch_grads, batches, central_moment, moment, one_step_distribution

__all__ = ["one_step_distribution", "batches", "batch_grads", "moment", "central_moment"]
