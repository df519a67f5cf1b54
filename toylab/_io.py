"""Saving and loading results: atomic writes, files that say what they hold, provenance.

Every result file is an ``.npz`` archive holding its arrays and one JSON string
``__meta__`` whose ``"__class__"`` names the class that wrote it.  A save
writes a temporary file in the destination folder and renames it over the
destination (atomic on POSIX and Windows), so an interrupted save leaves the
previous file as it was.  Loading a file of another class, a truncated file,
or something that is not a result at all raises one ``ValueError`` naming the
file and what it holds or lacks.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "save_npz", "load_npz", "read_npz", "provenance", "check_writable"]

META = "__meta__"


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``.

    On any error (or KeyboardInterrupt) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_npz(path, kind, meta, arrays):
    """Write ``arrays`` and the JSON ``meta`` (with ``__class__ = kind``) atomically to ``path``."""
    meta = {"__class__": kind, **meta}
    text = json.dumps(meta, default=_json_default)
    atomic_write(path, lambda fh: np.savez(fh, **{META: np.array(text)}, **arrays))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def load_npz(path, kind, required=(), legacy_meta=None):
    """``(meta, arrays)`` of a file written by :func:`save_npz` for class ``kind``.

    Raises ``ValueError`` naming ``path`` when it is not a readable ``.npz``
    archive, not a toylab result, a result of another class, or lacks one of
    the ``required`` fields.  ``legacy_meta`` names the metadata key of files
    written before classes were recorded (accepted when the fields are there).
    """
    path = Path(path)
    try:
        arrays = read_npz(path)
    except ValueError as err:
        raise ValueError(f"{err}: not a toylab result file") from None
    key = META if META in arrays else (legacy_meta if legacy_meta in arrays else None)
    if key is None:
        raise ValueError(
            f"{path}: an .npz archive but not a toylab result (it holds {', '.join(sorted(arrays)) or 'nothing'}, "
            f"and no {META})"
        )
    try:
        meta = json.loads(str(arrays.pop(key)))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: its {key} is not valid JSON ({err})") from None
    written_by = meta.pop("__class__", None)
    if written_by is not None and written_by != kind:
        raise ValueError(f"{path} holds a {written_by}, not a {kind}: load it with {written_by}.load")
    missing = [name for name in required if name not in meta and name not in arrays]
    if missing:
        if written_by is None:
            raise ValueError(f"{path}: lacks {', '.join(missing)} of a {kind} (the file records no class; it may "
                             "hold another result)")
        raise ValueError(f"{path}: a {written_by} file lacking {', '.join(missing)}")
    return meta, arrays


def read_npz(path):
    """Every array of the ``.npz`` archive ``path``, or ``ValueError`` saying what the file is instead."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head.startswith(b"PK\x03\x04"):
        if not head:
            raise ValueError(f"{path}: an empty file, not an .npz archive")
        try:
            first = head.decode("utf-8").splitlines()[0][:60]
            what = f"a text file (its first line: {first!r})"
        except UnicodeDecodeError:
            what = "binary data"
        raise ValueError(f"{path}: not an .npz archive but {what}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{path}: a truncated or damaged .npz archive ({err})") from None


def check_writable(path, *, folder=False):
    """Refuse, before any work, an output whose folder is missing or not writable.

    ``folder=False``: ``path`` is a file; its parent folder must exist and be
    writable (and ``path`` must not be a folder).  ``folder=True``: ``path`` is
    a folder, created later if missing; it must be a writable folder, or its
    parent must be one.  Raises ``ValueError`` saying which.
    """
    path = Path(path)
    if folder:
        if path.exists():
            if not path.is_dir():
                raise ValueError(f"{path} exists and is not a folder")
            target = path
        else:
            target = path.parent if str(path.parent) else Path(".")
            if not target.is_dir():
                raise ValueError(f"{path}: its parent folder {target} does not exist")
    else:
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name, e.g. {path / 'result.npz'}")
        target = path.parent if str(path.parent) else Path(".")
        if not target.is_dir():
            raise ValueError(f"{path}: the folder {target} does not exist")
    if not os.access(target, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: the folder {target} is not writable")


def _git_commit():
    """The commit of the checkout toylab is imported from, if it is one (else None)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5)
    return commit + ("+modified" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_STATIC = {}


def provenance():
    """Where and when a result was computed: commit, date, platform, CPU, threads, command line."""
    if not _STATIC:
        _STATIC.update(git_commit=_git_commit(), platform=platform.platform(), cpu=_cpu_name(),
                       cpu_count=os.cpu_count())
    import numba

    return {
        **_STATIC,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threads": numba.get_num_threads(),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if sys.argv and sys.argv[0] else None,
    }
