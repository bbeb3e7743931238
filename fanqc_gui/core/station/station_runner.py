"""The headless station loop (`fanqc inspect`, bench/station.py): grab -> judge -> log, no window.

Memory stays flat however long it runs: frames are not kept, latencies go into a fixed histogram, the log
commits in batches, and source events are kept in a short ring.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from fanqc_gui.core.station.frame_grabber import ENDED, FAILED, FrameGrabber, SourceStatus
from fanqc_gui.core.station.pipeline import Station


@dataclass
class RunSummary:
    frames: int = 0
    seconds: float = 0.0
    stopped_by: str = "end of source"   # end of source / frame limit / interrupted / source failed
    events: deque = field(default_factory=lambda: deque(maxlen=50))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_station(station: Station, grabber: FrameGrabber, max_frames: int | None = None,
                should_stop: Callable[[], bool] | None = None,
                on_progress: Callable[[RunSummary], None] | None = None, progress_every_s: float = 5.0,
                summary: RunSummary | None = None) -> RunSummary:
    """Judge frames until the source ends, max_frames were judged, should_stop() or Ctrl-C.
    The grabber must already be started; it is stopped here."""
    summary = summary or RunSummary()
    t0 = time.perf_counter()
    next_progress = t0 + progress_every_s
    try:
        while max_frames is None or summary.frames < max_frames:
            item = grabber.get(timeout=0.2)
            if item is ENDED:
                summary.stopped_by = "source failed" if grabber.status.state == FAILED else "end of source"
                break
            if item is None:
                station.log.flush_if_due()
                if should_stop is not None and should_stop():
                    summary.stopped_by = "stopped"
                    break
                continue
            station.process(item)
            summary.frames += 1
            if should_stop is not None and should_stop():  # a service manager's SIGTERM: stop between frames
                summary.stopped_by = "stopped"
                break
            if on_progress is not None and time.perf_counter() >= next_progress:
                next_progress += progress_every_s
                summary.seconds = time.perf_counter() - t0
                on_progress(summary)
        else:
            summary.stopped_by = "frame limit"
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
    finally:
        summary.seconds = time.perf_counter() - t0
        grabber.stop()
        station.flush()
    return summary


def status_recorder(summary: RunSummary, also: Callable[[SourceStatus], None] | None = None):
    """An on_status callback that keeps the last source events in the summary (and forwards them)."""
    def record(status: SourceStatus) -> None:
        summary.events.append({"time": round(time.time(), 3), "state": status.state, "message": status.message,
                               "attempt": status.attempt, "retry_in_s": status.retry_in_s})
        if also is not None:
            also(status)
    return record
