"""Which frames are judged, and for which part: the trigger modes of a station on the line.

continuous  every frame
triggered   the operator's key or button ("software"); also a line of text on `fanqc inspect`'s stdin
interval    one frame every interval_ms
plc         the PLC writes TRIGGER over Modbus (modbus_server.py)
mqtt        a message on <prefix>/<station>/trigger (mqtt_publisher.py)
presence    a part comes into the ROI (it differs from the empty ROI), then holds still for N frames; the
            detector re-arms once the ROI is empty again

The fresh-frame rule: a trigger is answered by the first frame *taken after it*. The capture thread keeps
the newest frame in its mailbox (and a recording keeps a few decoded frames queued), so the frame waiting
there when a trigger comes shows the line as it was before: it is skipped, like every frame with
grabbed_at before the trigger. For a live camera a frame grabbed just after the trigger was exposed (mostly)
before it, so there the rule asks for one more frame period; `delay_ms` adds a settling time on top.
A trigger that gets no such frame within frame_timeout_ms, or comes while the camera is lost, is answered
ERROR (register_map.ERR_NO_FRAME / ERR_CAMERA_LOST): the PLC always gets an answer.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from fanqc_gui.core.station.line_io.line_settings import TriggerSettings
from fanqc_gui.core.station.line_io.register_map import ERR_CAMERA_LOST, ERR_NO_FRAME, ERR_QUEUE_FULL

CONTINUOUS, TRIGGERED, INTERVAL, PLC, MQTT, PRESENCE = "continuous", "triggered", "interval", "plc", "mqtt", "presence"
TRIGGER_MODES = (CONTINUOUS, TRIGGERED, INTERVAL, PLC, MQTT, PRESENCE)
CLI_NAMES = {TRIGGERED: "software"}  # what `fanqc inspect --trigger` and the messages call a mode
SOFTWARE = "software"               # the source of the operator's triggers
# which trigger sources each mode takes; in plc mode the PLC owns the handshake, so an operator's trigger
# (which would overwrite the result registers the PLC is reading) is not taken
ACCEPTS = {CONTINUOUS: (), TRIGGERED: (SOFTWARE,), INTERVAL: (SOFTWARE,), PLC: (PLC,), MQTT: (MQTT, SOFTWARE),
           PRESENCE: (SOFTWARE,)}


def mode_name(mode: str) -> str:
    return CLI_NAMES.get(mode, mode)


@dataclass(frozen=True)
class Trigger:
    source: str          # continuous / software / plc / mqtt / presence / interval
    at: float            # time.monotonic() when it came (frame.grabbed_at for frame-made triggers)
    part_id: str = ""
    lot_id: str = ""
    trigger_id: int = 0  # the PLC's TRIGGER value, an MQTT message's "id"


class TriggerQueue:
    """Triggers from other threads (Modbus server, MQTT client, a key) waiting for a fresh frame, in order."""

    def __init__(self, capacity: int = 64):
        self._items: deque[Trigger] = deque()
        self._overflow: deque[Trigger] = deque(maxlen=capacity)
        self._capacity = capacity
        self._cond = threading.Condition()

    def put(self, trigger: Trigger) -> bool:
        """False when too many wait already (the trigger is then answered ERROR by the station loop)."""
        with self._cond:
            full = len(self._items) >= self._capacity
            (self._overflow if full else self._items).append(trigger)
            self._cond.notify_all()
            return not full

    def peek(self) -> Trigger | None:
        with self._cond:
            return self._items[0] if self._items else None

    def pop(self) -> Trigger | None:
        with self._cond:
            return self._items.popleft() if self._items else None

    def take_overflow(self) -> list[Trigger]:
        with self._cond:
            out = list(self._overflow)
            self._overflow.clear()
            return out

    def wait(self, timeout: float) -> bool:
        """Until a trigger waits (True) or timeout (False)."""
        with self._cond:
            if not self._items and not self._overflow:
                self._cond.wait(timeout)
            return bool(self._items or self._overflow)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class PresenceDetector:
    """A part in the ROI: the region differs from the empty one, then holds still for `still_frames` frames.

    Differences are mean absolute grey levels (0-255) of the ROI shrunk to 48 x 48 pixels, so camera noise
    and JPEG artefacts average out. The empty ROI is learned from the first frame (start with the ROI empty,
    or call teach_empty) and follows slow light changes while nothing is there.
    """

    ARMED, ARRIVING, PRESENT = "armed", "arriving", "present"
    SIZE = 48

    def __init__(self, still_frames: int = 3, change_level: float = 12.0, still_level: float = 3.0,
                 empty_frames: int = 2):
        self.still_frames, self.change_level, self.still_level = still_frames, change_level, still_level
        self.empty_frames = empty_frames
        self.state = self.ARMED
        self._empty: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._still = 0
        self._empty_seen = 0
        self.parts = 0

    def teach_empty(self) -> None:
        """The next frame is the empty ROI."""
        self._empty = None
        self.state = self.ARMED

    def _signature(self, crop: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
        return cv2.resize(grey, (self.SIZE, self.SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)

    def update(self, crop: np.ndarray) -> bool:
        """True for the frame on which a newly arrived part has been seen in the same place on still_frames
        frames in a row (this one the last): judge this frame."""
        sig = self._signature(crop)
        if self._empty is None:
            self._empty, self._prev = sig, sig
            return False
        from_empty = float(np.mean(np.abs(sig - self._empty)))
        from_prev = float(np.mean(np.abs(sig - self._prev)))
        self._prev = sig
        if self.state == self.ARMED:
            if from_empty > self.change_level:
                self.state, self._still = self.ARRIVING, 1  # this frame is the first of the still run
                return self._arrived() if self.still_frames <= 1 else False
            if from_prev <= self.still_level:  # nothing there and nothing moving: follow the light
                self._empty += 0.1 * (sig - self._empty)
        elif self.state == self.ARRIVING:
            if from_empty <= self.change_level:       # it went away again (a hand, a shadow)
                self.state = self.ARMED
            elif from_prev <= self.still_level:
                self._still += 1
                if self._still >= self.still_frames:
                    return self._arrived()
            else:
                self._still = 1                       # still moving: the run starts again with this frame
        elif from_empty <= self.change_level:         # PRESENT: re-arm once the ROI is empty again
            self._empty_seen += 1
            if self._empty_seen >= self.empty_frames:
                self.state = self.ARMED
        else:
            self._empty_seen = 0
        return False

    def _arrived(self) -> bool:
        self.state, self._empty_seen = self.PRESENT, 0
        self.parts += 1
        return True


class LineTriggers:
    """The trigger mode of a running station: which frame answers which trigger (see the module text).
    fire() may be called from any thread; take(), expired() and the rest belong to the station's loop."""

    def __init__(self, mode: str, settings: TriggerSettings | None = None, *, live: bool = False,
                 frame_period_s: float = 0.0, interval_ms: int = 1000, clock: Callable[[], float] = time.monotonic,
                 capacity: int = 64):
        self.settings = settings or TriggerSettings()
        self._clock = clock
        self.queue = TriggerQueue(capacity)
        self.live = live
        self.frame_period_s = frame_period_s
        self.presence = PresenceDetector(self.settings.presence_frames, self.settings.presence_change,
                                         self.settings.presence_still)
        self.skipped_stale = 0   # frames passed over because they were taken before the trigger
        self.refused = 0         # fire() calls this mode does not take
        self.paused = False      # the operator paused the station: no trigger is taken
        self.set_mode(mode, interval_ms)

    def set_mode(self, mode: str, interval_ms: int | None = None) -> None:
        if mode == SOFTWARE:
            mode = TRIGGERED
        if mode not in TRIGGER_MODES:
            raise ValueError(f"unknown trigger mode {mode!r}; use one of "
                             f"{', '.join(mode_name(m) for m in TRIGGER_MODES)}")
        self.mode = mode
        if interval_ms is not None:
            self.interval_s = max(10, int(interval_ms)) / 1000.0
        self._next_due = self._clock()
        if mode == PRESENCE:
            self.presence.teach_empty()

    @property
    def settle_s(self) -> float:
        """How long after a trigger a frame must be taken to answer it."""
        return self.settings.delay_ms / 1000.0 + (self.frame_period_s if self.live else 0.0)

    def accepts(self, source: str) -> bool:
        return source in ACCEPTS[self.mode]

    # ---- any thread ------------------------------------------------------------------------------------
    def fire(self, source: str = SOFTWARE, part_id: str = "", lot_id: str = "", trigger_id: int = 0,
             at: float | None = None) -> bool:
        """Queue a trigger; False when this mode does not take triggers from `source` (or while paused)."""
        if self.paused or not self.accepts(source):
            self.refused += 1
            return False
        self.queue.put(Trigger(source, self._clock() if at is None else at, part_id, lot_id, trigger_id))
        return True

    # ---- the station's loop ----------------------------------------------------------------------------
    def wants_frames(self) -> bool:
        """Whether the loop should read frames now (triggered modes only read while a trigger waits)."""
        return self.mode in (CONTINUOUS, PRESENCE, INTERVAL) or len(self.queue) > 0

    def wait(self, timeout: float) -> bool:
        return self.queue.wait(timeout)

    def take(self, frame, crop: Callable[[], np.ndarray] | None = None) -> Trigger | None:
        """The trigger this frame answers, or None when it is not to be judged. crop gives the ROI (presence)."""
        if self.mode == CONTINUOUS:
            return Trigger(CONTINUOUS, frame.grabbed_at)
        if self.mode == PRESENCE and crop is not None and self.presence.update(crop()):
            return Trigger(PRESENCE, frame.grabbed_at)
        if self.mode == INTERVAL:
            now = self._clock()
            if now >= self._next_due:
                self._next_due = max(self._next_due + self.interval_s, now)
                return Trigger(INTERVAL, frame.grabbed_at)
        head = self.queue.peek()
        if head is None:
            return None
        if frame.grabbed_at < head.at + self.settle_s:
            self.skipped_stale += 1
            return None
        return self.queue.pop()

    def expired(self, camera_ok: bool, now: float | None = None) -> list[tuple[Trigger, int]]:
        """Triggers to answer ERROR now, with the error code: all waiting ones while the camera is lost, those
        older than the frame timeout, and those that found the queue full."""
        now = self._clock() if now is None else now
        out = [(t, ERR_QUEUE_FULL) for t in self.queue.take_overflow()]
        timeout = self.settings.frame_timeout_ms / 1000.0
        while (head := self.queue.peek()) is not None:
            if camera_ok and now - head.at <= timeout:
                break
            out.append((self.queue.pop(), ERR_NO_FRAME if camera_ok else ERR_CAMERA_LOST))
        return out

    def pending(self) -> list[Trigger]:
        """Take every waiting trigger (the station is stopping: each is answered ERROR)."""
        out = [t for t in self.queue.take_overflow()]
        while (t := self.queue.pop()) is not None:
            out.append(t)
        return out
