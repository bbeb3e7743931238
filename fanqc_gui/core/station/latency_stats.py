"""Constant-memory timing statistics: a log-spaced latency histogram and a frames-per-second meter.

A station runs for days; keeping every sample would grow without bound. The histogram has fixed bins
1 % apart from 1 microsecond to 100 seconds, so percentiles are within 0.5 % whatever the run length.
"""
from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

_LOW_MS = 1e-3
_HIGH_MS = 1e5
_STEP = 1.01
_BINS = int(math.ceil(math.log(_HIGH_MS / _LOW_MS) / math.log(_STEP))) + 1


class LatencyHistogram:
    def __init__(self):
        self._counts = np.zeros(_BINS + 1, dtype=np.int64)  # last bin: overflow
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        ms = max(float(ms), 0.0)
        if ms <= _LOW_MS:
            i = 0
        else:
            i = min(_BINS, int(math.log(ms / _LOW_MS) / math.log(_STEP)) + 1)
        self._counts[i] += 1
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)

    def percentile(self, q: float) -> float | None:
        """Milliseconds below which q % of the samples lie (bin centre); None with no samples."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(self.count * q / 100.0))
        i = int(np.searchsorted(np.cumsum(self._counts), rank))
        if i == 0:
            return _LOW_MS
        if i >= _BINS:
            return self.max_ms
        lo = _LOW_MS * _STEP ** (i - 1)
        return min(math.sqrt(lo * lo * _STEP), self.max_ms)

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.count if self.count else None

    def reset(self) -> None:
        self._counts[:] = 0
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0


class RateMeter:
    """Events per second over the last `window_s` seconds (at most `keep` timestamps are kept)."""

    def __init__(self, window_s: float = 2.0, keep: int = 512, clock=time.monotonic):
        self._times: deque[float] = deque(maxlen=keep)
        self._window = window_s
        self._clock = clock

    def tick(self, now: float | None = None) -> None:
        self._times.append(self._clock() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = self._clock() if now is None else now
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = max(now, self._times[-1]) - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()
