"""Compiled ensemble kernels: one per-path step, compiled for the CPU and the GPU.

``rng`` is the counter-based generator, ``models`` and ``steps`` the per-path
functions (written once), ``cpu`` and ``cuda`` the two targets.
"""

#: Paths per statistics block: blocks are reduced on their own and merged in
#: block order, so results never depend on threads or chunking.
STAT_BLOCK = 64

#: A coordinate above this in absolute value (or non-finite) means the path
#: diverged.  Below it, the quartic observable |x|^4 (~d^2 1e100) and its square
#: in the variance (~d^4 1e200) stay finite in float64.
DIVERGENCE_BOUND = 1e25


def _register_cache_fallback():
    # before any cache=True function of this package is decorated: see cache.FallbackCacheLocator
    from .cache import register_fallback_locator

    register_fallback_locator()


_register_cache_fallback()


def tagged(jit, tag):
    """``jit``, after prefixing the function's qualified name with ``tag``.

    Numba names compiled symbols by qualified name and a per-process counter.
    Functions made by a factory share a qualified name (``finite.<locals>.
    batch_grad`` for every finite model), so two kernels compiled in different
    processes could carry different functions under one symbol name, and when
    both are loaded from the disk cache one kernel would call the other's
    function.  A tag per model keeps every symbol name unique to its code.
    """

    def decorate(f):
        f.__qualname__ = f"{tag}.{f.__qualname__}"
        return jit(f)

    return decorate


def python_copy(fn):
    """A copy of the Python function behind ``fn`` (a function or a numba
    dispatcher): what a ``tagged`` jit compiles, so that renaming it leaves
    the user's own function as it is.  (A user's ``loss`` in one notebook and
    another's in another share a qualified name: the tag keeps their symbols
    apart, for ``tagged``'s reason.)"""
    import types

    py = getattr(fn, "py_func", fn)
    copy = types.FunctionType(py.__code__, py.__globals__, py.__name__, py.__defaults__, py.__closure__)
    copy.__qualname__ = py.__qualname__
    copy.__module__ = py.__module__
    return copy
