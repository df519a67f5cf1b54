"""Result objects that carry their numbers, configuration and versions, and save losslessly."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

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
        return json.dumps(self.to_dict(), indent=2, default=float)

    def save(self, path):
        arrays, meta = {}, {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                arrays[f.name] = v
            else:
                meta[f.name] = v
        with open(path, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path):
        with np.load(path, allow_pickle=False) as data:
            kwargs = json.loads(str(data["__meta__"]))
            for name in data.files:
                if name != "__meta__":
                    kwargs[name] = data[name]
        for f in dataclasses.fields(cls):
            if f.type in ("tuple", tuple) and isinstance(kwargs.get(f.name), list):
                kwargs[f.name] = tuple(kwargs[f.name])
        return cls(**kwargs)
