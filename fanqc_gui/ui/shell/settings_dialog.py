"""Settings in one place, on three tabs: General (the workspace opened at start, the model store folder, the
theme), Camera station (source, region of interest, capture rules) and Line I/O (PLC over Modbus, MQTT,
trigger mode; ui/station/line_io_settings_form.py). Nothing changes until OK, and OK refuses (saying why, on
the tab concerned) a source, region, folder or line setting that cannot be used."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.app_settings import AppSettings
from fanqc_gui.core.paths import user_data_dir
from fanqc_gui.core.station.camera_sources import SourceError, SourceSpec
from fanqc_gui.core.station.station_settings import Roi, StationSettings
from fanqc_gui.ui.station.capture_rules_dialog import CaptureRulesForm
from fanqc_gui.ui.station.line_io_settings_form import LineIOForm
from fanqc_gui.ui.station.source_bar import KINDS
from fanqc_gui.ui.theme import THEME_LABELS


def _folder_row(edit: QLineEdit, title: str, parent: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    browse = QPushButton("Browse…")
    layout.addWidget(edit, 1)
    layout.addWidget(browse)

    def choose() -> None:
        chosen = QFileDialog.getExistingDirectory(parent, title, edit.text() or str(Path.home()))
        if chosen:
            edit.setText(chosen)

    browse.clicked.connect(choose)
    return row


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, station: StationSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("FanQC settings")
        self.setMinimumWidth(620)
        self._settings = settings
        self._station = station

        self.default_workspace = QLineEdit(settings.default_workspace or "")
        self.default_workspace.setPlaceholderText("the last workspace used")
        self.model_store = QLineEdit(settings.model_store or "")
        self.model_store.setPlaceholderText(str(user_data_dir() / "models"))
        store_note = QLabel(objectName="hint", wordWrap=True)
        if os.environ.get("FANQC_MODELS"):
            self.model_store.setEnabled(False)
            store_note.setText(f"Set by the FANQC_MODELS environment variable: {os.environ['FANQC_MODELS']}")
        else:
            store_note.setText("The app and the fanqc command both use this folder. Existing models are not moved.")
        general = QGroupBox("Workspace and models")
        form = QFormLayout(general)
        form.addRow("Open at start", _folder_row(self.default_workspace, "Workspace to open at start", self))
        form.addRow("Model store", _folder_row(self.model_store, "Model store folder", self))
        form.addRow("", store_note)

        self.source_kind = QComboBox()
        for key, title, _hint in KINDS:
            self.source_kind.addItem(title, key)
        self.source_kind.setCurrentIndex(max(0, self.source_kind.findData(station.source_kind or "camera")))
        self.source = QLineEdit(station.source or "0")
        self.roi = QLineEdit(str(station.roi) if station.roi else "")
        self.roi.setPlaceholderText("full frame (or x,y,w,h in pixels; drag it on the Camera page)")
        self.capture = CaptureRulesForm(station.capture)
        source_row = QWidget()
        row = QHBoxLayout(source_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.source_kind)
        row.addWidget(self.source, 1)
        camera = QGroupBox(f"Camera station ({station.name})")
        form = QFormLayout(camera)
        form.addRow("Source", source_row)
        form.addRow("Region judged", self.roi)
        form.addRow(QLabel("Frames kept in captures/", objectName="sectionTitle"))
        form.addRow(self.capture)

        self.theme = QComboBox()
        for key, title in THEME_LABELS.items():
            self.theme.addItem(title, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        look = QGroupBox("Appearance")
        form = QFormLayout(look)
        form.addRow("Theme", self.theme)

        self.line_io = LineIOForm(station.line_io, station.name, station.mode)

        self.error = QLabel(wordWrap=True, objectName="settingsError")  # coloured by the theme (fanqc.qss)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.tabs = QTabWidget()
        for title, widgets in (("General", (general, look)), ("Camera station", (camera,)),
                               ("Line I/O", (self.line_io,))):
            page = QWidget()
            page_layout = QVBoxLayout(page)
            for widget in widgets:
                page_layout.addWidget(widget)
            page_layout.addStretch(1)
            self.tabs.addTab(page, title)
        self.line_io_tab = self.tabs.widget(2)
        layout = QVBoxLayout(self)
        for widget in (self.tabs, self.error, buttons):
            layout.addWidget(widget)

    # ---- results ----------------------------------------------------------------------------------------
    def app_settings(self) -> AppSettings:
        """The app settings with this dialog's changes (the recent-workspace list untouched). Folders are
        stored absolute (~ expanded), so the app and `fanqc` agree whatever folder they start in."""
        def folder(edit: QLineEdit) -> str | None:
            text = edit.text().strip()
            return os.fspath(Path(text).expanduser().resolve()) if text else None

        return replace(self._settings, default_workspace=folder(self.default_workspace),
                       model_store=folder(self.model_store), theme=self.theme.currentData(),
                       recent_workspaces=list(self._settings.recent_workspaces))

    def station_settings(self) -> StationSettings:
        """The station settings with this dialog's changes; raises ValueError saying what is wrong."""
        kind = self.source_kind.currentData()
        try:
            spec = SourceSpec.parse(self.source.text(), kind)
        except SourceError as exc:
            raise ValueError(f"Camera source: {exc}") from None
        try:
            roi = Roi.parse(self.roi.text())
        except ValueError as exc:
            raise ValueError(f"Region judged: {exc}") from None
        return self._station.with_changes(source=spec.target, source_kind=spec.kind, roi=roi,
                                          capture=self.capture.rules(), line_io=self.line_io.line_io(),
                                          mode=self.line_io.mode())

    def problem(self) -> str | None:
        try:
            self.station_settings()
        except ValueError as exc:
            return str(exc)
        for edit, what in ((self.default_workspace, "The workspace to open at start"),
                           (self.model_store, "The model store")):
            text = edit.text().strip()
            if text and Path(text).expanduser().exists() and not Path(text).expanduser().is_dir():
                return f"{what} must be a folder: {text} is a file."
        workspace = self.default_workspace.text().strip()
        if workspace and not Path(workspace).expanduser().is_dir():
            return f"The workspace to open at start does not exist: {workspace}"
        return None

    def accept(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            tab = 2 if problem.startswith("Line I/O") else 1 if problem.startswith(("Camera", "Region")) else 0
            self.tabs.setCurrentIndex(tab)
            return
        super().accept()
