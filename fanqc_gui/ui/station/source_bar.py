"""Choosing the station's source: a camera number, a video file, a stream address or an image folder.

An image folder is shown to a person: one image every `Image every` seconds (default 1 s), each judged and
held on screen; 0 judges them as fast as the model allows (what `fanqc inspect` does).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from fanqc_gui.core.station.camera_sources import SourceError, SourceSpec

KINDS = (("camera", "Camera", "camera number: 0 is the first camera"),
         ("file", "Video file", "path of a video file (.avi, .mp4 ...)"),
         ("stream", "Stream URL", "rtsp://user:password@camera/stream or http://.../video.mjpg"),
         ("folder", "Image folder", "folder of images, judged in name order"))
DEFAULT_FOLDER_INTERVAL_S = 1.0


class SourceBar(QWidget):
    start_requested = Signal(object, bool, bool, float)  # SourceSpec, realtime, loop, folder interval (s)
    stop_requested = Signal()
    problem = Signal(str)                         # the typed source cannot be used

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind_box = QComboBox()
        for key, title, _ in KINDS:
            self.kind_box.addItem(title, key)
        self.kind_box.currentIndexChanged.connect(self._on_kind_box_changed)
        self.target_edit = QLineEdit("0")
        self.target_edit.returnPressed.connect(self._on_start_button_clicked)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        self.realtime_box = QCheckBox("Real-time playback")
        self.realtime_box.setToolTip("Play a recording at its own speed, dropping frames like a live camera. "
                                     "Off: every frame is judged, as fast as the model allows.")
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setToolTip("Play a recording again when it ends")
        self.interval_label = QLabel("Image every")
        self.interval_box = QDoubleSpinBox()
        self.interval_box.setRange(0.0, 60.0)
        self.interval_box.setDecimals(1)
        self.interval_box.setSingleStep(0.5)
        self.interval_box.setSuffix(" s")
        self.interval_box.setSpecialValueText("no pause")
        self.interval_box.setValue(DEFAULT_FOLDER_INTERVAL_S)
        tip = ("Image folder: seconds each image stays on screen before the next is judged. "
               "0 (no pause): judge them as fast as the model allows.")
        for w in (self.interval_label, self.interval_box):
            w.setToolTip(tip)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(False)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        for w in (self.browse_button, self.realtime_box, self.loop_box, self.start_button):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind_box)
        layout.addWidget(self.target_edit, 1)
        layout.addWidget(self.browse_button)
        layout.addWidget(self.realtime_box)
        layout.addWidget(self.loop_box)
        layout.addWidget(self.interval_label)
        layout.addWidget(self.interval_box)
        layout.addWidget(self.start_button)
        self._running = False
        self._on_kind_box_changed(0)

    def set_source(self, kind: str, target: str) -> None:
        i = self.kind_box.findData(kind)
        if i >= 0:
            self.kind_box.setCurrentIndex(i)
        self.target_edit.setText(target)

    def folder_interval_s(self) -> float:
        return float(self.interval_box.value())

    def kind(self) -> str:
        return self.kind_box.currentData()

    def spec(self) -> SourceSpec:
        return SourceSpec.parse(self.target_edit.text(), self.kind())

    def set_running(self, running: bool) -> None:
        self._running = running
        self.start_button.setText("Stop" if running else "Start")
        for w in (self.kind_box, self.target_edit, self.browse_button, self.realtime_box, self.loop_box,
                  self.interval_label, self.interval_box):
            w.setEnabled(not running)
        if not running:
            self._on_kind_box_changed(self.kind_box.currentIndex())

    @Slot(int)
    def _on_kind_box_changed(self, index: int) -> None:
        key, _, hint = KINDS[max(0, index)]
        self.target_edit.setPlaceholderText(hint)
        self.target_edit.setToolTip(hint)
        self.browse_button.setEnabled(key in ("file", "folder") and not self._running)
        recorded = key in ("file", "folder")
        self.realtime_box.setEnabled(recorded and not self._running)
        self.loop_box.setEnabled(recorded and not self._running)
        for w in (self.interval_label, self.interval_box):
            w.setVisible(key == "folder")
            w.setEnabled(not self._running)

    @Slot()
    def _on_browse_button_clicked(self) -> None:
        if self.kind() == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder", self.target_edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Video file", self.target_edit.text(),
                                                  "Videos (*.avi *.mp4 *.mkv *.mov *.mjpg *.webm);;All files (*)")
        if path:
            self.target_edit.setText(path)

    @Slot()
    def _on_start_button_clicked(self) -> None:
        if self._running:
            self.stop_requested.emit()
            return
        try:
            spec = self.spec()
        except SourceError as exc:
            self.problem.emit(str(exc))
            return
        recorded = not spec.live
        self.start_requested.emit(spec, recorded and self.realtime_box.isChecked(),
                                  recorded and self.loop_box.isChecked(), self.folder_interval_s())
