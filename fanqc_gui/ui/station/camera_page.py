"""The camera station page: live view with ROI, the big GO/NG banner, counters, trigger modes, and the
inspection log. The pipeline runs in a CameraWorker thread; this page only shows what it emits and
queues the operator's commands to it. Keys: Space = trigger, I = send the judged crop to the inbox,
P = pause, S = snapshot.

On the line (docs/line_io.md): the trigger mode says who triggers a part (the operator's button or Space
with the part and lot id typed or scanned, the PLC over Modbus, an MQTT message, the part arriving in the
ROI); the Line I/O status under the picture shows each output's connection. An anomaly model's map is
drawn over the region it judged.

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
    QLineEdit,
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
from fanqc_gui.core.station.line_io.line_settings import MAX_LOT_ID, MAX_PART_ID, save_mqtt_password
from fanqc_gui.core.station.line_io.results import PartResult
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
from fanqc_gui.ui.station.line_io_settings_form import MODE_LABELS
from fanqc_gui.ui.station.line_status import LineStatus
from fanqc_gui.ui.station.roi_view import RoiView
from fanqc_gui.ui.station.source_bar import SourceBar
from fanqc_gui.ui.station.station_counters import StationCounters
from fanqc_gui.ui.station.verdict_banner import VerdictBanner
from fanqc_gui.workers.camera_worker import CameraSession, CameraWorker, status_text
from fanqc_gui.workers.model_catalogue import ModelCatalogue, as_catalogue
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

MODES = MODE_LABELS
OPERATOR_TRIGGERS = ("triggered", "interval", "mqtt", "presence")  # modes that take the button and Space
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
        self.mode_box.setToolTip(
            "Continuous: judge every frame.\nSoftware trigger: judge the next frame after the Trigger button "
            "or the space bar (with the part id typed or scanned).\nEvery N ms: one frame per interval.\n"
            "PLC (Modbus): the PLC writes TRIGGER and reads the result (needs the Modbus server in Settings > "
            "Line I/O).\nMQTT message: a message on <prefix>/<station>/trigger (needs MQTT on).\n"
            "Part presence: a part comes into the region and holds still.")
        self.interval_box = QSpinBox()
        self.interval_box.setRange(50, 600_000)
        self.interval_box.setSingleStep(100)
        self.interval_box.setSuffix(" ms")
        self.part_edit = QLineEdit()
        self.part_edit.setMaxLength(MAX_PART_ID)
        self.part_edit.setPlaceholderText("part id (scan or type, Enter triggers)")
        self.part_edit.setToolTip("The part id stored with the next operator trigger's verdict and sent to the "
                                  "PLC / MQTT; cleared after each trigger. Enter triggers.")
        self.lot_edit = QLineEdit()
        self.lot_edit.setMaxLength(MAX_LOT_ID)
        self.lot_edit.setPlaceholderText("lot id")
        self.lot_edit.setToolTip("The lot id stored with every operator trigger's verdict (kept between parts)")
        for edit in (self.part_edit, self.lot_edit):
            edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            edit.returnPressed.connect(self._on_trigger_clicked)
        self.line_status = LineStatus()
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
        judging, identity, actions = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        identity.addWidget(QLabel("Part"))
        identity.addWidget(self.part_edit, 3)
        identity.addWidget(QLabel("Lot"))
        identity.addWidget(self.lot_edit, 2)
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
        left_layout.addLayout(identity)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.line_status)
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
                (Qt.Key.Key_Space, self._on_trigger_clicked, "Trigger: judge the next frame for the part id typed "
                                                             "(not in the Continuous and PLC modes)"),
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
        self._show_line_settings()

    def _show_line_settings(self) -> None:
        line = self.settings.line_io
        self.line_status.set_configured([n for n, o in (("modbus", line.modbus), ("mqtt", line.mqtt)) if o.enabled])
        if line.problem:
            self.status.setText(line.problem)

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
        self.trigger_button.setEnabled(running and mode in OPERATOR_TRIGGERS)
        for edit in (self.part_edit, self.lot_edit):
            edit.setEnabled(mode in OPERATOR_TRIGGERS)
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
        worker.overlay_ready.connect(self._on_worker_overlay_ready)
        worker.outputs_updated.connect(self._on_worker_outputs_updated)
        worker.error_answered.connect(self._on_worker_error_answered)
        worker.mode_changed.connect(self._on_worker_mode_changed)
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
        self.line_status.show_outputs([])
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
        self.part_edit.clear()
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
        (a new source and the Line I/O outputs apply at the next Start). A changed MQTT password goes to the
        station's secret file, never into station.json."""
        old_line = self.settings.line_io
        new_line = settings.line_io.with_changes(problem="")
        self._save_settings(source=settings.source, source_kind=settings.source_kind, line_io=new_line)
        if new_line.mqtt.password != old_line.mqtt.password:
            try:
                save_mqtt_password(self.settings.name, new_line.mqtt.password)
            except OSError as exc:
                self.status.setText(f"The MQTT password was not saved: {exc.strerror or exc}")
        if settings.source:
            self.source_bar.set_source(settings.source_kind or "camera", settings.source)
        self.set_capture_rules(settings.capture)
        if settings.roi != self.settings.roi:
            self.set_roi(settings.roi)
        if settings.mode != self.mode_box.currentData():
            self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(settings.mode)))
        self._show_line_settings()
        if self.session is not None and new_line != old_line:
            self.status.setText("Line I/O settings saved: they apply at the next Start")

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
        line = self.settings.line_io
        needs = {"plc": ("Modbus server", line.modbus.enabled), "mqtt": ("MQTT output", line.mqtt.enabled)}
        if mode in needs and not needs[mode][1]:
            self.status.setText(f"The {self.mode_box.currentText()} mode needs the {needs[mode][0]}: turn it on in "
                                f"Edit > Settings > Line I/O")
        self._update_controls()

    @Slot()
    def _on_trigger_clicked(self) -> None:
        mode = self.mode_box.currentData()
        if not self.worker or mode not in OPERATOR_TRIGGERS:
            if self.worker and mode == "plc":
                self.status.setText("In the PLC mode the PLC triggers (its handshake would be overwritten)")
            self.setFocus()
            return
        part, lot = self.part_edit.text().strip(), self.lot_edit.text().strip()
        if self.worker.trigger(part, lot):
            self.part_edit.clear()  # the next part needs its own id; the lot stays
            self.status.setText(f"Triggered part {part}" if part else "Triggered")
        else:
            self.status.setText("The trigger was not taken (the station is starting or paused)")
        self.setFocus()  # Space triggers again

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
    def _on_worker_overlay_ready(self, drawn) -> None:
        """An anomaly model's map over the region it judged (None: the model gives no map)."""
        if drawn is None:
            self.roi_view.set_overlay(None)
        else:
            self.roi_view.set_overlay(*drawn)

    @Slot(object)
    def _on_worker_outputs_updated(self, outputs) -> None:
        if self._from_current_worker():
            self.line_status.show_outputs(outputs)

    @Slot(object)
    def _on_worker_error_answered(self, result: PartResult) -> None:
        part = f" (part {result.part_id})" if result.part_id else ""
        text = f"{result.trigger_source} trigger{part} answered ERROR: {result.error}"
        self.status.setText(text)
        if not self._paused:
            self.banner.show_message("ERROR", text[:90], warn=True)

    @Slot(str)
    def _on_worker_mode_changed(self, mode: str) -> None:
        if mode != self.mode_box.currentData():  # a change the station refused: show what runs
            self.mode_box.blockSignals(True)
            self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(mode)))
            self.mode_box.blockSignals(False)
            self._save_settings(mode=mode)
            self._update_controls()

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
