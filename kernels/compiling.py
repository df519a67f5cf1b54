"""Two of Numba's compile passes without their needless deep copies.

Most of a cold compile of the CPU kernels went to ``copy.deepcopy`` in two
places of Numba, each copying far more than it needs to.  Each is rebuilt
here from Numba's own source with one change, and :func:`faster_compiles`
puts both in place for as long as its context lasts.

* **IR inlining** (``InlineWorker.inline_ir``, ``numba/core/inline_closurecall.py``).
  The CPU kernels inline their per-path functions at Numba's IR level
  (``inline="always"``, ``kernels.cpu``).  At each call site Numba copies the
  callee's IR block by block, each block with a fresh memo.  Every variable
  refers to the function's one scope, which lists every variable of the
  function, so that scope is copied again for every block: the cost grows with
  blocks x variables of each inlined function (numba issue #8989, numba-cuda
  issue #688).  Here one memo serves all blocks of a copy: the scope is copied
  once, and the copied blocks share it as the original blocks do.
* **Copy propagation** (``ir_utils.copy_propagate``, run by the parfor passes
  of every ``parallel=True`` kernel).  Its fixed-point iteration deep-copies
  the table of copies (block label -> set of ``(lhs, rhs)`` variable names)
  at every round, only to compare it with the next round's.  The sets hold
  tuples of strings, which a deep copy returns as they are, so a copy of
  each set is the same snapshot.

Cold compiles of the CPU kernels, with Numba as it is -> the first change ->
both (BENCHMARKS.md, LinearRegression): SGD 36 -> 28 -> 21 s, NGD 47 -> 38 ->
36 s, SVAG 85 -> 64 -> 36 s; the kernels compute the same numbers.

Each function is rebuilt only where Numba's source has the lines this was
written against (numba 0.68.1); anywhere else that function is left as it is
(:data:`AVAILABLE` names those replaced).  The replacements are in effect only
inside the context, so other Numba code in the process is not touched.
"""

from __future__ import annotations

import contextlib
import inspect
import textwrap
import threading

__all__ = ["faster_compiles", "AVAILABLE"]

# InlineWorker.inline_ir's copy_ir, two levels into the dedented method
_PER_BLOCK = textwrap.indent(
    """\
for block_label, block in the_ir.blocks.items():
    new_block = copy.deepcopy(the_ir.blocks[block_label])
    kernel_copy.blocks[block_label] = new_block
""",
    " " * 8,
)
_ONE_MEMO = textwrap.indent(
    """\
memo = {}
for block_label, block in the_ir.blocks.items():
    new_block = copy.deepcopy(the_ir.blocks[block_label], memo)
    kernel_copy.blocks[block_label] = new_block
""",
    " " * 8,
)
# copy_propagate's snapshot of the table, at the start and at each round
_DEEP_SNAPSHOT = "copy.deepcopy(out_copies)"
_SET_SNAPSHOT = "{label: set(copies) for label, copies in out_copies.items()}"


def _rebuilt(function, old, new, count):
    """``function`` compiled from its source with ``old`` (found ``count`` times) made ``new``, or None."""
    try:
        module = inspect.getmodule(function)
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return None
    if module is None or source.count(old) != count:
        return None
    namespace = {}
    exec(compile(source.replace(old, new), module.__file__, "exec"), module.__dict__, namespace)
    return namespace[function.__name__]


def _replacements():
    """``(name, [(owner, attribute)], replacement)`` for each function this Numba lets us rebuild."""
    found = []
    try:
        from numba.core import inline_closurecall, ir_utils
        from numba.parfors import parfor
    except ImportError:
        return found
    inline_ir = _rebuilt(inline_closurecall.InlineWorker.inline_ir, _PER_BLOCK, _ONE_MEMO, 1)
    if inline_ir is not None:
        found.append(("InlineWorker.inline_ir", [(inline_closurecall.InlineWorker, "inline_ir")], inline_ir))
    copy_propagate = _rebuilt(ir_utils.copy_propagate, _DEEP_SNAPSHOT, _SET_SNAPSHOT, 2)
    # parfor.py binds the name at import (from numba.core.ir_utils import ...)
    if copy_propagate is not None and getattr(parfor, "copy_propagate", None) is ir_utils.copy_propagate:
        found.append(("ir_utils.copy_propagate", [(ir_utils, "copy_propagate"), (parfor, "copy_propagate")], copy_propagate))
    return found


_REPLACEMENTS = _replacements()
#: The Numba functions this Numba lets :func:`faster_compiles` replace.
AVAILABLE = tuple(name for name, _, _ in _REPLACEMENTS)
_LOCK = threading.Lock()
_DEPTH = 0
_ORIGINALS = []


@contextlib.contextmanager
def faster_compiles():
    """Numba's IR inlining and copy propagation without their extra deep copies, inside the context.

    Re-entrant and thread-safe: the first to enter swaps the functions in, the
    last to leave swaps Numba's own back.
    """
    global _DEPTH, _ORIGINALS
    with _LOCK:
        if _DEPTH == 0:
            for _, places, replacement in _REPLACEMENTS:
                for owner, attribute in places:
                    _ORIGINALS.append((owner, attribute, getattr(owner, attribute)))
                    setattr(owner, attribute, replacement)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for owner, attribute, original in reversed(_ORIGINALS):
                    setattr(owner, attribute, original)
                _ORIGINALS = []
