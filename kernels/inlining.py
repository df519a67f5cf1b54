"""Numba's IR inlining with one copy of the callee's scope per call site.

The CPU kernels inline their per-path functions at Numba's IR level
(``inline="always"``, ``kernels.cpu``).  For each call site Numba's
``InlineWorker.inline_ir`` (``numba/core/inline_closurecall.py``) deep-copies
the callee's IR block by block, each block with a fresh memo.  Every variable
refers to the function's one scope, which lists every variable of the
function, so that scope is copied again for every block: the cost grows with
blocks x variables of each inlined function, and most of a cold compile went
to ``copy.deepcopy`` (numba issue #8989, numba-cuda issue #688).

:func:`faster_inlining` runs the same method with one memo for all blocks of a
copy: the scope is copied once, and the copied blocks share it as the
original blocks do.  Nothing else changes.  Cold compiles of the CPU kernels
take a fifth to a third less time (SGD x LinearRegression 36 -> 29 s, SVAG
85 -> 60 s; BENCHMARKS.md), and the kernels compute the same numbers.

The method is rebuilt from Numba's own source, with that one change, and only
where the source has the lines this was written against (numba 0.68.1);
anywhere else :func:`faster_inlining` leaves Numba as it is.  It is in effect
only inside the context, so other Numba code in the process is not touched.
"""

from __future__ import annotations

import contextlib
import inspect
import textwrap
import threading

__all__ = ["faster_inlining", "AVAILABLE"]

_PER_BLOCK = """\
    for block_label, block in the_ir.blocks.items():
        new_block = copy.deepcopy(the_ir.blocks[block_label])
        kernel_copy.blocks[block_label] = new_block
"""
_ONE_MEMO = """\
    memo = {}
    for block_label, block in the_ir.blocks.items():
        new_block = copy.deepcopy(the_ir.blocks[block_label], memo)
        kernel_copy.blocks[block_label] = new_block
"""


def _one_memo_inline_ir():
    """Numba's ``InlineWorker.inline_ir`` with one memo per IR copy, or None."""
    try:
        from numba.core import inline_closurecall as module

        source = textwrap.dedent(inspect.getsource(module.InlineWorker.inline_ir))
    except (ImportError, AttributeError, OSError, TypeError):
        return None, None
    # the loop is two levels into the dedented method (its body, then copy_ir's)
    old = textwrap.indent(_PER_BLOCK, " " * 4)
    if source.count(old) != 1:
        return None, None
    namespace = {}
    exec(compile(source.replace(old, textwrap.indent(_ONE_MEMO, " " * 4)), module.__file__, "exec"), module.__dict__, namespace)
    return module.InlineWorker, namespace["inline_ir"]


_WORKER, _FAST = _one_memo_inline_ir()
#: Whether this Numba's inlining can be replaced (its source is the expected one).
AVAILABLE = _FAST is not None
_LOCK = threading.Lock()
_DEPTH = 0
_ORIGINAL = None


@contextlib.contextmanager
def faster_inlining():
    """Numba's IR inlining with one copy of each callee's scope, inside the context.

    Re-entrant and thread-safe: the first to enter swaps the method in, the
    last to leave swaps Numba's own back.
    """
    global _DEPTH, _ORIGINAL
    if not AVAILABLE:
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _ORIGINAL = _WORKER.inline_ir
            _WORKER.inline_ir = _FAST
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                _WORKER.inline_ir = _ORIGINAL
                _ORIGINAL = None
