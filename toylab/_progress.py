"""A small progress bar on stderr, shown only for runs longer than ``delay`` seconds.

The time left is estimated from the rate since the first update, not since
the start: what comes before the first unit of work is done (compiling a
kernel, starting workers) does not inflate the estimate.
"""

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
        self._first = None  # (time, done) at the first update

    def update(self, n):
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, self.done)
        elapsed = now - self.start
        if elapsed < self.delay or (now - self._last < 0.2 and self.done < self.total):
            return
        self._last = now
        self._shown = True
        frac = min(self.done / self.total, 1.0)
        t0, done0 = self._first
        rate = (self.done - done0) / (now - t0) if self.done > done0 and now > t0 else float("nan")
        eta = (self.total - self.done) / rate if self.done < self.total else 0.0
        left = f"{eta:5.1f}s" if eta == eta else "    ?"
        bar = "#" * int(30 * frac)
        self.stream.write(
            f"\r{self.label}: {100 * frac:5.1f}% |{bar:<30}| {self.done:.3g}/{self.total:.3g} {self.unit} "
            f"[{elapsed:5.1f}s elapsed, {left} left]"
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
