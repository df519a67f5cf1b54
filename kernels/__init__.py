"""Compiled ensemble kernels: one per-path step, compiled for the CPU and the GPU.

``rng`` is the counter-based generator, ``models`` and ``steps`` the per-path
functions (written once), ``cpu`` and ``cuda`` the two targets.
"""

#: Paths per statistics block: blocks are reduced on their own and merged in
#: block order, so results never depend on threads or chunking.
STAT_BLOCK = 64

#: A coordinate above this in absolute value (or non-finite) means the path
#: diverged.  Below it, quadratic observables (~1e100) and their squares in the
#: variance (~1e200) stay finite in float64.
DIVERGENCE_BOUND = 1e50
