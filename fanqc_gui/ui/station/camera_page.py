"""The camera station page: live view with ROI, the big GO/NG banner, counters, trigger modes, and the
inspection log. The pipeline runs in a CameraWorker thread; this page only shows what it emits and
queues the operator's commands to it. Keys: Space = trigger, I = send the judged crop to the inbox,
P = pause, S = snapshot.

Everything shown belongs to one workspace (its log, its captures, the counters of a run into it):
`set_workspace` puts the page back as if built on the new one. The active model comes from the model
catalogue while idle; a running station follows it itself (core.station.model_watch).
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.station.camera_sources import CaptureFactory, SourceSpec
from fanqc_gui.core.station.frame_grabber import SourceStatus
from fanqc_gui.core.station.pipeline import Counters, ModelSummary, PredictorFactory, StationStats, Verdict
from fanqc_gui.core.station.station_settings import (
    DEFAULT_STATION,
    CaptureRules,
    StationSettings,
    load_station_settings,
    save_station_settings,
)
from fanqc_gui.ui.station.capture_rules_dialog import CaptureRulesDialog
from fanqc_gui.ui.station.inspection_log_view import InspectionLogView
from fanqc_gui.ui.station.roi_view import RoiView
from fanqc_gui.ui.station.source_bar import SourceBar
from fanqc_gui.ui.station.station_counters import StationCounters
from fanqc_gui.ui.station.verdict_banner import VerdictBanner
from fanqc_gui.workers.camera_worker import CameraSession, CameraWorker, status_text
from fanqc_gui.workers.model_catalogue import ModelCatalogue, as_catalogue
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

MODES = (("continuous", "Continuous"), ("triggered", "Triggered"), ("interval", "Every N ms"))
READY = ("READY", "Choose a source and press Start")


class CameraPage(QWidget):
    def __init__(self, workspace: Workspace | None, models: ModelStore | ModelCatalogue,
                 parent: QWidget | None = None, *, station_name: str = DEFAULT_STATION,
                 thumbnails: ThumbnailLoader | None = None, capture_factory: CaptureFactory | None = None,
                 predictor_factory: PredictorFactory | None = None):
        super().__init__(parent)
        self.workspace = workspace
        self.catalogue = as_catalogue(models, self)
        self._capture_factory, self._predictor_factory = capture_factory, predictor_factory
        self.settings: StationSettings = load_station_settings(station_name)
        self._owns_thumbnails = thumbnails is None
        self.thumbnails = thumbnails or ThumbnailLoader(self, size=48, threads=1)
        self.session: CameraSession | None = None
        self.last_verdict: Verdict | None = None
        self._paused = False
        self._shown_once = False
        self._build()
        self._restore_settings()
        self.catalogue.changed.connect(self._on_catalogue_changed)
        self._on_catalogue_changed()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def store(self) -> ModelStore:
        """The store the station reads (the catalogue's: a new model store folder applies at the next Start)."""
        return self.catalogue.store

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_bar = SourceBar()
        self.roi_view = RoiView()
        self.roi_view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.banner = VerdictBanner()
        self.counters = StationCounters()
        self.log_view = InspectionLogView(self.workspace, self.thumbnails)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.mode_box = QComboBox()
        for key, title in MODES:
            self.mode_box.addItem(title, key)
        self.mode_box.setToolTip("Continuous: judge every frame. Triggered: judge the next frame after the "
                                 "Trigger button or the space bar. Every N ms: judge one frame per interval.")
        self.interval_box = QSpinBox()
        self.interval_box.setRange(50, 600_000)
        self.interval_box.setSingleStep(100)
        self.interval_box.setSuffix(" ms")
        self.trigger_button = QPushButton("Trigger (Space)")
        self.pause_button = QPushButton("Pause (P)")
        self.pause_button.setCheckable(True)
        self.snapshot_button = QPushButton("Snapshot (S)")
        self.inbox_button = QPushButton("Send to inbox (I)")
        self.inbox_button.setToolTip("Send the crop of the last judged frame to the dataset's inbox for labelling")
        self.full_frame_button = QPushButton("Whole frame")
        self.full_frame_button.setToolTip("Judge the whole frame instead of a region")
        self.rules_button = QPushButton("Capture rules...")
        self.rules_button.setToolTip("Which judged frames are saved to captures/")
        judging, actions = QHBoxLayout(), QHBoxLayout()
        for row, widgets in ((judging, (self.mode_box, self.interval_box, self.trigger_button, self.pause_button)),
                             (actions, (self.snapshot_button, self.inbox_button, self.full_frame_button,
                                        self.rules_button))):
            for w in widgets:
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and the station keys stay with the page
                row.addWidget(w)
            row.addStretch(1)
        # A number is typed, so its box takes a click; it applies the value once complete and hands the
        # keyboard back to the page, so Space triggers again.
        self.interval_box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.interval_box.setKeyboardTracking(False)
        self.interval_box.editingFinished.connect(self.setFocus)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.roi_view, 1)
        left_layout.addLayout(judging)
        left_layout.addLayout(actions)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.banner, 3)
        right_layout.addWidget(self.counters)
        right_layout.addWidget(self.log_view, 4)
        splitter = self.splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

        self.source_bar.start_requested.connect(self._on_source_bar_start_requested)
        self.source_bar.stop_requested.connect(self._on_source_bar_stop_requested)
        self.source_bar.problem.connect(self._on_problem_reported)
        self.roi_view.roi_changed.connect(self._on_roi_view_roi_changed)
        self.mode_box.currentIndexChanged.connect(self._on_mode_changed)
        self.interval_box.valueChanged.connect(self._on_mode_changed)
        self.trigger_button.clicked.connect(self._on_trigger_clicked)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.snapshot_button.clicked.connect(self._on_snapshot_clicked)
        self.inbox_button.clicked.connect(self._on_inbox_clicked)
        self.full_frame_button.clicked.connect(self._on_full_frame_clicked)
        self.rules_button.clicked.connect(self._on_rules_clicked)
        self.counters.reset_requested.connect(self._on_counters_reset_requested)
        self.log_view.message.connect(self._on_problem_reported)
        for key, slot, what in (
                (Qt.Key.Key_Space, self._on_trigger_clicked, "Judge the next frame (Triggered and Every N ms modes)"),
                (Qt.Key.Key_I, self._on_inbox_clicked, "Send the crop of the last judged frame to the inbox"),
                (Qt.Key.Key_P, self.pause_button.toggle, "Pause or resume judging"),
                (Qt.Key.Key_S, self._on_snapshot_clicked, "Save the whole current frame (snapshot)")):
            shortcut = QShortcut(QKeySequence(key), self, context=Qt.ShortcutContext.WindowShortcut)
            shortcut.setWhatsThis(what)  # Help > Keyboard shortcuts lists it with this text
            shortcut.activated.connect(slot)
        self._update_controls()

    def _restore_settings(self) -> None:
        s = self.settings
        self.roi_view.set_roi(s.roi)
        self.interval_box.setValue(s.interval_ms)
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(s.mode)))
        if s.source:
            self.source_bar.set_source(s.source_kind or "camera", s.source)
        self.source_bar.realtime_box.setChecked(s.realtime)

    def _save_settings(self, **changes) -> None:
        self.settings = self.settings.with_changes(**changes)
        try:
            save_station_settings(self.settings)
        except (OSError, ValueError) as exc:
            self.status.setText(f"Station settings not saved: {exc}")

    def _update_controls(self) -> None:
        running = self.session is not None
        mode = self.mode_box.currentData()
        self.interval_box.setEnabled(mode == "interval")
        self.trigger_button.setEnabled(running and mode != "continuous")
        for w in (self.pause_button, self.snapshot_button, self.inbox_button):
            w.setEnabled(running)

    @property
    def worker(self) -> CameraWorker | None:
        return self.session.worker if self.session else None

    # ---- start / stop --------------------------------------------------------------------------------
    def start(self, spec: SourceSpec, realtime: bool = False, loop: bool = False,
              folder_interval_s: float | None = None) -> None:
        """Judge spec. An image folder shows one image every folder_interval_s seconds (default: the source
        bar's "Image every"; 0: as fast as the model allows)."""
        if self.session is not None:
            return
        if self.workspace is None:
            self.banner.show_message("NO WORKSPACE", "open a workspace first: verdicts are logged there")
            return
        self._save_settings(source=spec.target, source_kind=spec.kind, realtime=realtime,
                            workspace=str(self.workspace.root))
        if folder_interval_s is None:
            folder_interval_s = self.source_bar.folder_interval_s()
        worker = CameraWorker(self.workspace, self.store, self.settings, spec, realtime=realtime, loop=loop,
                              folder_interval_s=folder_interval_s, capture_factory=self._capture_factory,
                              predictor_factory=self._predictor_factory)
        worker.frame_ready.connect(self._on_worker_frame_ready)
        worker.verdict_ready.connect(self._on_worker_verdict_ready)
        worker.stats_updated.connect(self._on_worker_stats_updated)
        worker.source_state_changed.connect(self._on_worker_source_state_changed)
        worker.model_changed.connect(self._on_worker_model_changed)
        worker.snapshot_saved.connect(self._on_worker_snapshot_saved)
        worker.sent_to_inbox.connect(self._on_worker_sent_to_inbox)
        worker.action_failed.connect(self._on_problem_reported)
        worker.failed.connect(self._on_worker_failed)
        worker.finished.connect(self._on_worker_finished)
        self.session = CameraSession(worker)
        self.last_verdict = None  # "ENDED" keeps this run's last verdict in view, never an older run's
        self.pause_button.setChecked(False)
        self.source_bar.set_source(spec.kind, spec.target)
        self.source_bar.set_running(True)
        self.banner.show_message("...", f"opening {spec.describe()}")
        self._update_controls()
        self.session.start()

    def stop(self) -> None:
        """Stop the station and wait for its thread (the current frame finishes first)."""
        session, self.session = self.session, None
        if session is not None:
            if not session.stop():
                self.status.setText("The camera thread did not stop in time")
            else:  # what the worker said before it ended (last stats, verdict) is shown now, not after a reset
                QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        self.source_bar.set_running(False)
        self._update_controls()

    def set_workspace(self, workspace: Workspace | None) -> None:
        """The page as if built on `workspace`: a running station is stopped, and the counters, picture,
        banner and status of the old workspace are cleared; the log view shows the new workspace's log and
        the next Start logs and saves captures there. The station's own settings (ROI, source, mode) stay."""
        self.stop()
        self.workspace = workspace
        self.last_verdict = None
        self._paused = False
        self.pause_button.setChecked(False)
        self.roi_view.clear_frame()
        self.counters.show_counters(Counters())
        self.banner.set_rates(0.0, None)
        self.banner.show_message(*READY)
        self._on_catalogue_changed()
        self.status.setText("")
        self.log_view.set_workspace(workspace)

    def set_roi(self, roi) -> None:
        """Judge this region (None: the whole frame), as if the operator had dragged it."""
        self.roi_view.set_roi(roi)
        self._on_roi_view_roi_changed(roi)

    @Slot()
    def shutdown(self) -> None:
        """Stop everything this page started; call before the window closes."""
        self.stop()
        self.log_view.close_log()
        if self._owns_thumbnails:
            self.thumbnails.shutdown()
            self._owns_thumbnails = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:  # live view 55 %, banner and log 45 %; the operator may drag the divider
            self._shown_once = True
            total = max(self.splitter.width(), self.width())
            self.splitter.setSizes([int(total * 0.55), total - int(total * 0.55)])

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ---- operator input ------------------------------------------------------------------------------
    @Slot(object, bool, bool, float)
    def _on_source_bar_start_requested(self, spec: SourceSpec, realtime: bool, loop: bool, interval_s: float) -> None:
        self.start(spec, realtime, loop, interval_s)

    @Slot()
    def _on_source_bar_stop_requested(self) -> None:
        self.stop()
        self.banner.show_message("STOPPED", "press Start to inspect again")

    @Slot(object)
    def _on_roi_view_roi_changed(self, roi) -> None:
        self._save_settings(roi=roi)
        if self.worker:
            self.worker.set_roi(roi)
        self.status.setText(f"Region judged: {roi}" if roi else "Whole frame judged")

    @Slot()
    def _on_full_frame_clicked(self) -> None:
        self.set_roi(None)

    @Slot()
    def _on_rules_clicked(self) -> None:
        dialog = CaptureRulesDialog(self.settings.capture, self)
        if dialog.exec():
            self.set_capture_rules(dialog.rules())

    def apply_station_settings(self, settings: StationSettings) -> None:
        """Settings edited elsewhere (the Settings dialog): saved, shown, and used by a running station
        (a new source applies at the next Start)."""
        self._save_settings(source=settings.source, source_kind=settings.source_kind)
        if settings.source:
            self.source_bar.set_source(settings.source_kind or "camera", settings.source)
        self.set_capture_rules(settings.capture)
        if settings.roi != self.settings.roi:
            self.set_roi(settings.roi)

    def set_capture_rules(self, rules: CaptureRules) -> None:
        self._save_settings(capture=rules)
        if self.worker:
            self.worker.set_capture_rules(rules)

    @Slot()
    def _on_mode_changed(self, *_) -> None:
        mode, interval = self.mode_box.currentData(), self.interval_box.value()
        self._save_settings(mode=mode, interval_ms=interval)
        if self.worker:
            self.worker.set_mode(mode, interval)
        self._update_controls()

    @Slot()
    def _on_trigger_clicked(self) -> None:
        if self.worker and self.mode_box.currentData() != "continuous":
            self.worker.trigger()

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if not self.worker:
            if paused:
                self.pause_button.setChecked(False)
            return
        self._paused = paused
        self.worker.set_paused(paused)
        if paused:
            self.banner.show_message("PAUSED", "press P or Pause to go on")
        elif self.last_verdict:
            self.banner.show_verdict(self.last_verdict)

    @Slot()
    def _on_snapshot_clicked(self) -> None:
        if self.worker:
            self.worker.snapshot()

    @Slot()
    def _on_inbox_clicked(self) -> None:
        if self.worker:
            self.worker.send_current_to_inbox()

    @Slot()
    def _on_counters_reset_requested(self) -> None:
        if self.worker:
            self.worker.reset_counters()
        else:
            self.counters.show_counters(Counters())

    @Slot(str)
    def _on_problem_reported(self, text: str) -> None:
        self.status.setText(text)

    # ---- what the worker reports ---------------------------------------------------------------------
    @Slot(object)
    def _on_worker_frame_ready(self, frame) -> None:
        self.roi_view.set_frame(frame)

    @Slot(object)
    def _on_worker_verdict_ready(self, verdict: Verdict) -> None:
        self.last_verdict = verdict
        self.roi_view.set_verdict(verdict.verdict)
        if not self._paused:
            self.banner.show_verdict(verdict)

    @Slot(object)
    def _on_worker_stats_updated(self, stats: StationStats) -> None:
        self.counters.show_counters(stats.counters)
        self.banner.set_rates(stats.fps, stats.latency_p50_ms)
        if stats.capture_problem:
            self.status.setText(stats.capture_problem)

    @Slot(object)
    def _on_worker_source_state_changed(self, status: SourceStatus) -> None:
        self.status.setText(status_text(status))
        if status.state == "reconnecting":
            self.banner.show_message("NO PICTURE", f"reconnecting in {status.retry_in_s:.1f} s", warn=True)
        elif status.state == "failed":
            self.banner.show_message("NO SOURCE", status.message[:80], warn=True)
        elif status.state == "ended":
            # the last verdict stays readable; the end is noted under it
            if self.last_verdict is not None:
                self.banner.show_verdict(self.last_verdict, note=f"ENDED: {status.message}")
            else:
                self.banner.show_message("ENDED", f"{status.message}: nothing judged")
        elif status.state == "running" and self.last_verdict is None:
            self.banner.show_message("...", "waiting for the first verdict")

    @Slot()
    def _on_catalogue_changed(self) -> None:
        """While idle the banner names the model a Start would use (a running station reports its own)."""
        if self.session is not None:
            return
        info = self.catalogue.active()
        self.banner.set_model(ModelSummary(info.id, info.name, info.threshold, "") if info else None)

    @Slot(object)
    def _on_worker_model_changed(self, model: ModelSummary) -> None:
        self.banner.set_model(model)
        if model.error:
            self.status.setText(model.error)

    @Slot(str)
    def _on_worker_snapshot_saved(self, path: str) -> None:
        self.status.setText(f"Snapshot saved: {path}")

    @Slot(str)
    def _on_worker_sent_to_inbox(self, path: str) -> None:
        self.status.setText(f"Sent to the inbox: {path}")
        self.log_view.refresh()

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        if not self._from_current_worker():
            return
        self.banner.show_message("STOPPED", message[:90], warn=True)
        self.status.setText(message)

    @Slot()
    def _on_worker_finished(self) -> None:
        if not self._from_current_worker():
            return
        self.stop()
        self.log_view.refresh()

    def _from_current_worker(self) -> bool:
        """Queued signals of a worker stopped earlier must not touch the session running now."""
        return self.session is not None and self.sender() is self.session.worker
