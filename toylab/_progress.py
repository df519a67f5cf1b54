"""A small progress bar on stderr, shown only for runs longer than ``delay`` seconds."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total, *, enabled=True, label="simulate", delay=2.0, stream=None, unit="path-steps"):
        self.total = max(int(total), 1)
        self.enabled = bool(enabled)
        self.label = label
        self.unit = unit
        self.delay = delay
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, n):
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay or (now - self._last < 0.2 and self.done < self.total):
            return
        self._last = now
        self._shown = True
        frac = min(self.done / self.total, 1.0)
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        bar = "#" * int(30 * frac)
        self.stream.write(
            f"\r{self.label}: {100 * frac:5.1f}% |{bar:<30}| {self.done:.3g}/{self.total:.3g} {self.unit} "
            f"[{elapsed:5.1f}s elapsed, {eta:5.1f}s left]"
        )
        self.stream.flush()

    def close(self):
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
