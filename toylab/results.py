"""Result objects that carry their numbers, configuration and versions, and save losslessly."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from ._io import load_npz, save_npz

__all__ = ["Result"]


class Result:
    """Mixin for frozen dataclasses of results.

    Array fields go into an ``.npz`` file as arrays; every other field
    (numbers, strings, dicts of configuration and versions) into one JSON
    string inside it.  ``load`` restores an equal object.
    """

    def to_dict(self):
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    def to_json(self):
        """Strict JSON (RFC 8259): NaN and infinities become null."""
        return json.dumps(_strict(self.to_dict()), indent=2, allow_nan=False, default=float)

    #: Name of the ``toylab.plotting`` function that draws this result, and whether it takes a list.
    _plotter = None

    def plot(self, path=None):
        """The figure a user would look at first (the one ``toylab reproduce`` draws); returns it.

        With ``path``, also writes it there.
        """
        if self._plotter is None:
            raise TypeError(f"{type(self).__name__} has no figure")
        from . import plotting

        name, grouped = self._plotter
        return getattr(plotting, name)([self] if grouped else self, path)

    def save(self, path):
        """Save losslessly to ``path`` (``.npz``), atomically: an interrupted save keeps the old file."""
        arrays, meta = {}, {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                arrays[f.name] = v
            else:
                meta[f.name] = v
        save_npz(path, type(self).__name__, meta, arrays)

    @classmethod
    def load(cls, path):
        """Load a result written by :meth:`save`; a file of another class, a truncated file or one
        that is no toylab result raises ``ValueError`` naming the file."""
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        meta, arrays = load_npz(path, cls.__name__, required)
        kwargs = {**meta, **arrays}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ValueError(f"{path}: fields {', '.join(unknown)} are not those of a {cls.__name__}")
        for f in dataclasses.fields(cls):
            if f.type in ("tuple", tuple) and isinstance(kwargs.get(f.name), list):
                kwargs[f.name] = tuple(kwargs[f.name])
        return cls(**kwargs)


def _strict(value):
    """``value`` with every non-finite float replaced by None (JSON null)."""
    if isinstance(value, float) or isinstance(value, np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    return value
