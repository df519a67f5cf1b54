"""Where compiled kernels live on disk, and the keys that name them.

Numba's disk cache keys a function on its own source file (path, time stamp and
bytecode), not on the functions it calls.  A kernel that captures other jitted
functions in a closure, or receives them as arguments, gets a new key in every
process, and a kernel whose callees change silently keeps its stale machine
code.  So every ensemble kernel is a module-level function in a small generated
module of its own, written once into :func:`cache_dir` under a file name that
hashes all the code the kernel runs (:func:`code_hash`): the toylab kernel
sources, the model's compiled functions (a user's own included) and the
algorithm's step.  The functions themselves reach the generated module through
:data:`REGISTRY`, filled in Python before the module is imported; once Numba has
compiled the kernel, a later process loads its machine code from the disk
cache without compiling it or its callees again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

import numba
import numpy as np

#: Namespaces of compiled functions by kernel key: what each generated module
#: imports (``from toylab._kernels.cache import REGISTRY``).
REGISTRY = {}

_DIGEST = None


def source_digest():
    """Hash of the toylab kernel sources (this folder, recursively) and the Numba version."""
    global _DIGEST
    if _DIGEST is None:
        h = hashlib.sha256(numba.__version__.encode())
        root = Path(__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _DIGEST = h.hexdigest()[:16]
    return _DIGEST


def cache_dir():
    """Folder of the generated kernel modules (and, beside them, Numba's cache).

    ``TOYLAB_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/toylab`` or
    ``~/.cache/toylab``; a temporary folder if none of these is writable.
    """
    root = os.environ.get("TOYLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "toylab"
    )
    path = Path(root) / f"kernels-{source_digest()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError:
        user = os.getuid() if hasattr(os, "getuid") else "user"
        path = Path(tempfile.gettempdir()) / f"toylab-{user}" / path.name
        path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------ cache fallback
class FallbackCacheLocator(numba.core.caching._CacheLocator):
    """Numba's disk cache for a function whose source folder and Numba's user-wide folder are unwritable.

    Numba tries its own locators first (beside the source, in ``__pycache__``;
    then ``NUMBA_CACHE_DIR`` or the user-wide folder); with none writable,
    a ``cache=True`` function fails to compile with "no locator available".
    This one, registered last, keeps the index under :func:`cache_dir` (itself
    falling back to a temporary folder), so every compiled function of toylab
    (the generated kernels, the fast kernels, the statistics merge) caches
    somewhere writable and a run always works.
    """

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        tag = hashlib.sha256(os.path.abspath(py_file).encode()).hexdigest()[:16]
        self._cache_path = str(cache_dir() / "numba" / f"{Path(py_file).stem}-{tag}")

    def ensure_cache_path(self):
        os.makedirs(self._cache_path, exist_ok=True)
        tempfile.TemporaryFile(dir=self._cache_path).close()

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        st = os.stat(self._py_file)
        return st.st_mtime, st.st_size

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.exists(py_file):
            return None
        self = cls(py_func, py_file)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


def register_fallback_locator():
    """Append :class:`FallbackCacheLocator` to Numba's locators (once)."""
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in Numba 0.59
    if FallbackCacheLocator not in impl._locator_classes:
        impl._locator_classes.append(FallbackCacheLocator)


# ------------------------------------------------------------------ code keys
def _code_key(code):
    """What a code object computes, without its file name or line numbers
    (a function moved in its file, or run from a notebook cell, keeps its key)."""
    consts = tuple(_code_key(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, consts)


def _names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _feed(h, obj, seen):
    py = getattr(obj, "py_func", obj)  # a numba dispatcher: its Python function
    if isinstance(py, types.FunctionType):
        if id(py) in seen:
            h.update(b"<seen>")
            return
        seen.add(id(py))
        h.update(repr(_code_key(py.__code__)).encode())
        # the globals it reads (functions it calls, constants) and its closure
        for name in sorted(_names(py.__code__)):
            if name in py.__globals__:
                h.update(name.encode())
                _feed(h, py.__globals__[name], seen)
        for cell in py.__closure__ or ():
            try:
                _feed(h, cell.cell_contents, seen)
            except ValueError:  # an empty cell
                h.update(b"<empty>")
        # numba's options (inline, error_model, ...) change the machine code
        h.update(repr(sorted(getattr(obj, "targetoptions", {}).items())).encode())
    elif isinstance(obj, types.ModuleType):
        h.update(obj.__name__.encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (bool, int, float, complex, str, bytes, type(None), np.generic)):
        h.update(f"{type(obj).__name__}:{obj!r}".encode())
    elif isinstance(obj, (tuple, list, frozenset, set)):
        h.update(type(obj).__name__.encode())
        for item in obj if isinstance(obj, (tuple, list)) else sorted(obj, key=repr):
            _feed(h, item, seen)
    elif isinstance(obj, dict):
        for k in sorted(obj, key=repr):
            h.update(repr(k).encode())
            _feed(h, obj[k], seen)
    elif isinstance(obj, types.SimpleNamespace):
        _feed(h, vars(obj), seen)
    elif isinstance(obj, type):
        h.update(f"{obj.__module__}.{obj.__qualname__}".encode())
    else:
        h.update(f"<{type(obj).__module__}.{type(obj).__qualname__}>".encode())


def code_hash(*objects):
    """A hash of the code of ``objects`` (functions, numba dispatchers, constants).

    Functions are followed into the globals they read and their closures, so a
    change anywhere in what a kernel calls changes the key; file names and line
    numbers are left out.
    """
    h = hashlib.sha256()
    seen = set()
    for obj in objects:
        _feed(h, obj, seen)
    return h.hexdigest()[:20]


# ------------------------------------------------------- generated modules
def load_generated(name, source):
    """Import the generated module ``name`` with text ``source`` from :func:`cache_dir`.

    Written once (to a temporary file, then renamed: concurrent processes never
    see half a file); an existing file with the same text is reused, which keeps
    its time stamp and so Numba's cache of it.
    """
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def is_cached(module):
    """Whether Numba's disk cache holds compiled code from the generated ``module``."""
    folder = Path(module.__file__).parent / "__pycache__"
    return any(folder.glob(f"{module.__name__}.*.nbi"))
