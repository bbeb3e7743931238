"""The capture thread: reads a source and hands frames to the inspection loop through a mailbox.

Live sources (camera, stream) use a one-slot mailbox: a new frame replaces the one not yet taken, so a
slow model judges the newest frame and never works through a backlog. Recorded sources (file, folder) use a
small blocking queue: every frame is judged, in order, as fast as the model allows, unless real-time
playback is asked for (then the file is paced at its own frame rate and frames drop like a camera's) or
paced playback (the recording's own rhythm, but every frame is kept: a folder of images shown to a person one
a second, each judged; a slow reader slows it down instead of losing images).
A live source that fails or is lost is reported and reopened with exponential back-off.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from fanqc_gui.core.station.camera_sources import Frame, FrameSource, SourceError

ENDED = object()  # returned by get() once the source has ended and every frame was taken
LOST_AFTER_S = 2.0  # a live source without a frame for this long is lost, whatever the failed-read count

CONNECTING, RUNNING, RECONNECTING, ENDED_STATE, FAILED, STOPPED = (
    "connecting", "running", "reconnecting", "ended", "failed", "stopped")


@dataclass(frozen=True)
class SourceStatus:
    state: str              # connecting / running / reconnecting / ended / failed / stopped
    source: str             # the source, described for people
    message: str = ""
    attempt: int = 0        # reconnect attempt number
    retry_in_s: float = 0.0


class Backoff:
    """Delays 0.5, 1, 2, 4 ... up to `maximum` seconds; reset after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0, factor: float = 2.0):
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self.attempt = 0

    def next_delay(self) -> float:
        self.attempt += 1
        return min(self.maximum, self.initial * self.factor ** (self.attempt - 1))

    def reset(self) -> None:
        self.attempt = 0


class FrameMailbox:
    """overwrite=True: one slot, newest wins (counts drops). overwrite=False: bounded FIFO, put blocks."""

    def __init__(self, capacity: int = 1, overwrite: bool = True):
        self._items: deque = deque()
        self._capacity = 1 if overwrite else max(1, capacity)
        self._overwrite = overwrite
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item) -> bool:
        """False when the mailbox was closed (the reader is gone)."""
        with self._cond:
            while not self._overwrite and len(self._items) >= self._capacity and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return False
            if self._overwrite and self._items:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None):
        """The next frame; None on timeout; ENDED when closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return ENDED if self._closed else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


StatusCallback = Callable[[SourceStatus], None]


class FrameGrabber:
    """Reads `source` on its own thread. `start()` opens the source first (SourceError if it cannot),
    unless wait_for_source=True: then a live source that is not there yet is retried in the background."""

    def __init__(self, source: FrameSource, *, realtime: bool = False, paced: bool = False, loop: bool = False,
                 reconnect: bool = True, on_status: StatusCallback | None = None, queue_size: int = 8,
                 backoff: Backoff | None = None, lost_after_failed_reads: int = 5):
        self.source = source
        self.live = source.live
        self.realtime = realtime and not self.live
        self.paced = (paced or realtime) and not self.live
        self.loop = loop and not self.live
        self.reconnect = reconnect and self.live
        drops = self.live or self.realtime
        # paced: one slot, so a paused reader holds the recording back instead of finding a backlog
        self.mailbox = FrameMailbox(1 if drops or self.paced else queue_size, overwrite=drops)
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._lost_after = max(1, lost_after_failed_reads)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened = False
        self.frames_read = 0
        self.reconnects = 0
        self.passes = 1
        self.status = SourceStatus(CONNECTING, source.spec.describe())

    # ---- control (any thread) ------------------------------------------------------------------------
    def start(self, wait_for_source: bool = False) -> None:
        if not wait_for_source or not self.reconnect:
            self._report(CONNECTING)
            try:
                self.source.open()
            except SourceError as exc:
                self._report(FAILED, str(exc))
                raise
            self._opened = True
            self._report(RUNNING)
        self._thread = threading.Thread(target=self._run, name="fanqc-frame-grabber", daemon=True)
        self._thread.start()

    def get(self, timeout: float | None = None):
        """Next frame (Frame), None on timeout, or ENDED after the source ended or failed for good."""
        return self.mailbox.get(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading and wait for the thread (a blocked stream read ends within its own timeout)."""
        self._stop.set()
        self.mailbox.close()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.status.state in (RUNNING, CONNECTING, RECONNECTING):
            self._report(STOPPED)

    @property
    def dropped(self) -> int:
        return self.mailbox.dropped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- the thread ----------------------------------------------------------------------------------
    def _report(self, state: str, message: str = "", attempt: int = 0, retry_in: float = 0.0) -> None:
        self.status = SourceStatus(state, self.source.spec.describe(), message, attempt, retry_in)
        if self._on_status is not None:
            self._on_status(self.status)

    def _run(self) -> None:
        try:
            self._read_loop()
        except Exception as exc:  # noqa: BLE001 - a broken driver must not kill the station silently
            self._report(FAILED, f"capture stopped: {exc}")
        finally:
            self.source.close()
            self.mailbox.close()

    def _read_loop(self) -> None:
        failed_reads = 0
        last_good = time.monotonic()
        pace_origin: tuple[float, float] | None = None  # (monotonic, source_time) of the first paced frame
        while not self._stop.is_set():
            if not self._opened:
                if not self._try_open():
                    return
                last_good = time.monotonic()
            frame = self.source.read()
            if frame is None:
                failed_reads += 1
                # a camera may miss a frame now and then; a stream read that timed out is conclusive
                if self.live and failed_reads < self._lost_after and time.monotonic() - last_good < LOST_AFTER_S:
                    self._stop.wait(0.01)
                    continue
                self.source.close()
                self._opened = False
                failed_reads = 0
                if self.live:
                    if not self._wait_before_retry("lost the picture: no frames from the source"):
                        return
                    continue
                if self.loop:
                    self.source.open()  # a recording played again from the start
                    self._opened = True
                    self.passes += 1
                    pace_origin = None
                    continue
                self._report(ENDED_STATE, "end of the folder" if self.source.spec.kind == "folder"
                             else "end of the recording")
                return
            failed_reads = 0
            last_good = time.monotonic()
            self.frames_read += 1
            if self.paced:
                pace_origin = self._pace(frame, pace_origin)
            if not self.mailbox.put(frame):
                return

    def _try_open(self) -> bool:
        """Open (or reopen) the source; False when it is time to give up."""
        while not self._stop.is_set():
            if self._backoff.attempt == 0:
                self._report(CONNECTING)
            try:
                self.source.open()
            except SourceError as exc:
                if not self.reconnect:
                    self._report(FAILED, str(exc))
                    return False
                if not self._wait_before_retry(str(exc)):
                    return False
                continue
            if self.frames_read or self._backoff.attempt:
                self.reconnects += 1
            self._backoff.reset()
            self._opened = True
            self._report(RUNNING)
            return True
        return False

    def _wait_before_retry(self, reason: str) -> bool:
        if not self.reconnect:
            self._report(FAILED, reason)
            return False
        delay = self._backoff.next_delay()
        self._report(RECONNECTING, reason, self._backoff.attempt, delay)
        return not self._stop.wait(delay)

    def _pace(self, frame: Frame, origin: tuple[float, float] | None) -> tuple[float, float]:
        if origin is None:
            return time.monotonic(), frame.source_time
        now = time.monotonic()
        delay = origin[0] + (frame.source_time - origin[1]) - now
        if delay > 0:
            self._stop.wait(delay)
        elif not self.realtime:  # paced, and the reader was slower: keep the rhythm from here, no rush
            return now, frame.source_time
        return origin
