"""The camera station off the GUI thread: a QObject that runs core.station.pipeline's pipeline in a QThread.

The worker loop takes the newest frame from a FrameGrabber, judges it when the trigger mode says so, and
emits plain data (numpy frames, Verdict, StationStats, SourceStatus, ModelSummary, OutputStatus). Triggers and
outputs are those of a station on the line (core.station.line_station.LineStation): the operator's button,
the PLC over Modbus, an MQTT message or part presence trigger a part; every verdict also goes to the PLC and
MQTT when their outputs are on, and each output's connection is reported with the stats. Display signals are
throttled to `display_fps`: the GUI sees the latest frame and verdict, never a backlog. Operator commands
(trigger, pause, ROI, mode, snapshot, send to inbox, stop) are thread-safe calls queued to the loop and run
between two frames, so the Station and its predictor are only ever used by the worker thread.
"""
from __future__ import annotations

import queue
import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.station.camera_sources import CaptureFactory, SourceError, SourceSpec, open_source
from fanqc_gui.core.station.frame_grabber import ENDED, FrameGrabber, SourceStatus
from fanqc_gui.core.station.line_io.results import LineIOError
from fanqc_gui.core.station.line_station import LineStation, camera_ok
from fanqc_gui.core.station.pipeline import PredictorFactory, Station, StationError, Verdict
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings

STATS_EVERY_S = 0.25
TERMINAL_STATES = ("ended", "failed")


class CameraWorker(QObject):
    frame_ready = Signal(object)           # np.ndarray, BGR: the newest frame (throttled)
    verdict_ready = Signal(object)         # core.station.pipeline.Verdict (the newest, throttled in continuous mode)
    stats_updated = Signal(object)         # core.station.pipeline.StationStats
    source_state_changed = Signal(object)  # core.station.frame_grabber.SourceStatus
    model_changed = Signal(object)         # core.station.pipeline.ModelSummary
    overlay_ready = Signal(object)         # (BGR crop with the anomaly map drawn, Roi), or None: no map to show
    outputs_updated = Signal(object)       # list[core.station.line_io.results.OutputStatus] (with the stats)
    error_answered = Signal(object)        # core.station.line_io.results.PartResult: a trigger answered ERROR
    mode_changed = Signal(str)             # the trigger mode the station runs in (after a refused change too)
    snapshot_saved = Signal(str)
    sent_to_inbox = Signal(str)
    action_failed = Signal(str)            # an operator action could not be done (the station keeps running)
    failed = Signal(str)                   # the station could not start or stopped on an error
    finished = Signal()

    def __init__(self, workspace: Workspace, store: ModelStore, settings: StationSettings, spec: SourceSpec, *,
                 model_ref: str | None = None, realtime: bool = False, loop: bool = False,
                 folder_interval_s: float = 0.0, capture_factory: CaptureFactory | None = None,
                 predictor_factory: PredictorFactory | None = None,
                 display_fps: float = 30.0, num_threads: int = 1):
        super().__init__()
        self._workspace, self._store, self._settings, self._spec = workspace, store, settings, spec
        self._model_ref, self._realtime, self._loop = model_ref, realtime, loop
        # an image folder shown to a person: one image every folder_interval_s seconds (0: as fast as it goes)
        self._folder_interval_s = max(0.0, folder_interval_s) if spec.kind == "folder" else 0.0
        self._capture_factory, self._predictor_factory = capture_factory, predictor_factory
        self._display_period = 1.0 / display_fps
        self._num_threads = num_threads
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._statuses: queue.SimpleQueue = queue.SimpleQueue()  # from the grabber thread, emitted by ours
        self._held: list[SourceStatus] = []
        self._stop = threading.Event()
        self._paused = False
        self._pending_frame: np.ndarray | None = None
        self._pending_verdict: tuple[Verdict, np.ndarray] | None = None  # with the frame it judged
        self.station: Station | None = None  # for tests and the page's log path; used by the worker thread
        self.line: LineStation | None = None  # its fire() is thread-safe; the rest belongs to the worker thread

    # ---- thread-safe commands ------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def trigger(self, part_id: str = "", lot_id: str = "") -> bool:
        """The operator's trigger (button, Space) for this part; False when the mode does not take it (plc,
        continuous, presence: the PLC or the picture triggers there) or the station has not started yet."""
        line = self.line
        return line is not None and line.fire(part_id, lot_id)

    def set_paused(self, paused: bool) -> None:
        self._commands.put(("pause", (bool(paused),)))

    def set_roi(self, roi: Roi | None) -> None:
        self._commands.put(("roi", (roi,)))

    def set_mode(self, mode: str, interval_ms: int | None = None) -> None:
        self._commands.put(("mode", (mode, interval_ms)))

    def set_capture_rules(self, rules: CaptureRules) -> None:
        self._commands.put(("capture", (rules,)))

    def reset_counters(self) -> None:
        self._commands.put(("reset", ()))

    def snapshot(self) -> None:
        self._commands.put(("snapshot", ()))

    def send_current_to_inbox(self) -> None:
        self._commands.put(("inbox", ()))

    # ---- the loop (worker thread) --------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported to the page instead of dying silently
            self.failed.emit(f"the station stopped: {exc}")
        finally:
            self.finished.emit()

    def _run(self) -> None:
        try:
            station = Station(self._workspace, self._store, self._settings, model_ref=self._model_ref,
                              source=self._spec.describe(), num_threads=self._num_threads,
                              predictor_factory=self._predictor_factory)
        except (StationError, OSError, ValueError) as exc:
            self.failed.emit(str(exc))
            return
        self.station = station
        self.model_changed.emit(station.model_summary())
        try:
            line = LineStation(station, self._settings.mode, self._settings.line_io, live=self._spec.live,
                               interval_ms=self._settings.interval_ms, workspace_root=self._workspace.root)
            line.start()  # before the camera: a port in use is reported at once
        except (LineIOError, ValueError) as exc:
            station.close()
            self.failed.emit(str(exc))
            return
        self.line = line
        self.outputs_updated.emit(line.outputs())
        try:
            self._run_source(station, line)
        finally:
            line.stop()
            self.outputs_updated.emit([])

    def _run_source(self, station: Station, line: LineStation) -> None:
        interval = self._folder_interval_s or None
        grabber = FrameGrabber(open_source(self._spec, self._capture_factory, folder_interval_s=interval),
                               realtime=self._realtime, paced=interval is not None, loop=self._loop,
                               on_status=self._statuses.put)
        try:
            grabber.start(wait_for_source=True)
        except SourceError as exc:  # a recording that cannot be opened; live sources are retried instead
            station.close()
            self._emit_statuses(final=True)
            self.failed.emit(str(exc))
            return
        if self._spec.live:  # a frame judged for a trigger is exposed after it (core/station/line_io/triggers.py)
            line.triggers.frame_period_s = 1.0 / (getattr(grabber.source, "nominal_fps", None) or 30.0)
        try:
            self._loop_frames(station, line, grabber)
        finally:
            grabber.stop()
            station.close()
            self.stats_updated.emit(station.stats())
            self._emit_statuses(final=True)

    def _emit_statuses(self, final: bool = False) -> None:
        # Signals are emitted from this thread only: a signal emitted from the grabber's plain Python
        # thread is queued to the sender's (this busy) thread for callables without a receiver object.
        # "ended" / "failed" wait until the frames read before them were shown (final=True).
        while True:
            try:
                self._held.append(self._statuses.get_nowait())
            except queue.Empty:
                break
        while self._held and (final or self._held[0].state not in TERMINAL_STATES):
            self.source_state_changed.emit(self._held.pop(0))

    def _loop_frames(self, station: Station, line: LineStation, grabber: FrameGrabber) -> None:
        # Frames are read all the time (the live view); the triggers decide which of them are judged: the
        # first one taken after a trigger, never one that waited in the mailbox (LineStation.on_frame).
        frame_image: np.ndarray | None = None
        last_display = last_stats = 0.0
        while not self._stop.is_set():
            self._run_commands(station, line, frame_image)
            station.log.flush_if_due()
            if not self._statuses.empty():
                self._show_pending()  # the verdicts of frames before a state change come first
                self._emit_statuses()
            for answer in line.tick(camera_ok(grabber)):
                self.error_answered.emit(answer)
            now = time.monotonic()
            if now - last_stats >= STATS_EVERY_S:
                if not self._paused:  # the rate shown while paused is the one before the pause
                    self.stats_updated.emit(station.stats())
                self.outputs_updated.emit(line.outputs())  # a broker may go away while paused too
                last_stats = now
            if self._paused:
                self._stop.wait(0.02)
                continue
            seen_changes = station.model_changes
            change = station.check_model()
            item = grabber.get(timeout=0.02)
            if item is ENDED:
                break
            now = time.monotonic()
            judged = False
            if item is not None:
                frame_image = self._pending_frame = item.image
                verdict = line.on_frame(item)
                if verdict is not None:
                    self._pending_verdict = (verdict, item.image)
                    judged = True
            if change is not None or station.model_changes != seen_changes:
                self.model_changed.emit(station.model_summary())
            urgent = judged and line.mode != "continuous"
            if (urgent or now - last_display >= self._display_period) and self._pending_frame is not None:
                self._show_pending()
                last_display = now
        self._show_pending()
        station.flush()

    def _show_pending(self) -> None:
        """Emit the newest frame and verdict not shown yet (display is throttled to display_fps)."""
        if self._pending_frame is not None:
            self.frame_ready.emit(self._pending_frame)
        if self._pending_verdict is not None:
            verdict, image = self._pending_verdict
            self.overlay_ready.emit(_drawn_map(verdict, image))
            self.verdict_ready.emit(verdict)
        self._pending_frame = self._pending_verdict = None

    def _run_commands(self, station: Station, line: LineStation, frame_image: np.ndarray | None) -> None:
        while True:
            try:
                name, args = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._run_command(station, line, frame_image, name, args)
            except (StationError, LineIOError, OSError, ValueError) as exc:
                self.action_failed.emit(str(exc))
                if name == "mode":
                    self.mode_changed.emit(line.mode)  # the page shows the mode that still runs

    def _run_command(self, station: Station, line: LineStation, frame_image, name: str, args: tuple) -> None:
        if name == "pause":
            self._paused = args[0]
            line.set_paused(args[0])
        elif name == "roi":
            station.set_roi(args[0])
        elif name == "mode":
            mode, interval_ms = args
            if interval_ms is not None:
                line.triggers.set_mode(line.mode, interval_ms)  # the interval first, the mode's rules after
            line.set_mode(mode)
            self.mode_changed.emit(line.mode)
        elif name == "capture":
            station.set_settings(station.settings.with_changes(capture=args[0]))
        elif name == "reset":
            station.reset_counters()
            self.stats_updated.emit(station.stats())
        elif name == "snapshot":
            if frame_image is None:
                raise StationError("no picture yet to save")
            self.snapshot_saved.emit(str(station.snapshot(frame_image)))
        elif name == "inbox":
            station.flush()
            self.sent_to_inbox.emit(str(station.send_last_to_inbox()))


class CameraSession(QObject):
    """Owns the QThread of one CameraWorker: start it, stop it cooperatively and wait for it."""

    def __init__(self, worker: CameraWorker, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("fanqc-camera")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # direct: the GUI thread may be blocked in stop() -> wait(), so a queued quit would never arrive
        worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self, wait_ms: int = 15000) -> bool:
        """Ask the worker to stop and wait for its thread; True when it has ended."""
        self.worker.stop()
        if not self.thread.isRunning():
            return True
        return self.thread.wait(wait_ms)


def _drawn_map(verdict: Verdict, image: np.ndarray):
    """(the judged crop with its anomaly map drawn, its Roi), or None when the model gives no map."""
    if verdict.anomaly_map is None:
        return None
    from fanqc_gui.core.models.anomaly.heat_map import overlay

    crop = np.ascontiguousarray(verdict.roi.crop(image))
    if crop.ndim != 3 or crop.shape[2] != 3:
        return None
    return overlay(crop, verdict.anomaly_map, verdict.threshold), verdict.roi


def status_text(status: SourceStatus) -> str:
    """One line for people: 'camera 0: reconnecting (attempt 3, next try in 2.0 s): lost the picture'."""
    text = f"{status.source}: {status.state}"
    if status.state == "reconnecting":
        text += f" (attempt {status.attempt}, next try in {status.retry_in_s:.1f} s)"
    if status.message:
        text += f" - {status.message}"
    return text
