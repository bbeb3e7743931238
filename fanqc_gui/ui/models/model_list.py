"""Every stored model with its figures and the active mark; activate, rename, delete, export, import.

The list shows the model catalogue (workers.model_catalogue): it re-reads it whenever the catalogue changes
(a threshold saved in Insight, an activation at the Camera page, another program), and makes every change
through it, so the other pages see this list's changes at once.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, ModelStoreError
from fanqc_gui.ui import theme
from fanqc_gui.workers.model_catalogue import ModelCatalogue, as_catalogue
from fanqc_gui.workers.model_jobs import ModelJobs

COLUMNS = ("Active", "Name", "Kind", "Created", "Source", "Trained on", "Val. accuracy", "NG recall", "Threshold",
           "TFLite", "Station")
READINESS_TEXT = {True: "ready", False: "NOT READY", None: "unknown"}
ID_ROLE = Qt.ItemDataRole.UserRole
EXPORT_TIP = "(Re)write model.tflite, the fast runtime file, for the selected model."
IMPORT_TIP = "Bring in a Keras .h5 model made with the old training script (it is not activated)."
MIN_VISIBLE_ROWS = 5  # the table never shrinks below this many rows: the active model stays in sight


def _percent(value) -> str:
    return f"{100.0 * value:.1f} %" if isinstance(value, (int, float)) else "—"


def _images_text(counts: dict) -> str:
    train, val = counts.get("train") or {}, counts.get("val") or {}
    if not train:
        return "—"
    return (f"GO {train.get('GO', 0)} / NG {train.get('NG', 0)} "
            f"(+{val.get('GO', 0) + val.get('NG', 0)} for validation)")


def kind_text(metadata: dict) -> str:
    """What kind of model, in words: "anomaly (GO only) · PaDiM", "GO/NG · pretrained", "GO/NG · pretrained ·
    fine-tuned" (its upper blocks tuned and kept), "GO/NG · reference"."""
    if metadata.get("kind") == "anomaly":
        method = {"padim": "PaDiM", "patchcore": "PatchCore"}.get(metadata.get("method"), metadata.get("method"))
        return f"anomaly (GO only) · {method}" if method else "anomaly (GO only)"
    preset = metadata.get("preset") or ("imported" if metadata.get("source") == "imported" else "reference")
    tuned = ((metadata.get("training") or {}).get("fine_tuned") or {}).get("kept")
    return f"GO/NG · {preset}{' · fine-tuned' if tuned else ''}"


KIND_TIPS = {True: "Finds anomalies: trained on good parts only; its score is how much a part differs from them "
                   "(NG at or above the threshold), with a map of where.",
             False: "Classifies GO/NG: trained on both folders; its score is P(NG)."}


def row_texts(info: ModelInfo, active: bool) -> list[str]:
    s = info.summary()
    created = s["created"].replace("T", " ")[:16] if s["created"] else "—"
    return ["● active" if active else "", s["name"], kind_text(info.metadata), created, s["source"],
            _images_text(s["images"] or {}), _percent(s["val_accuracy"]), _percent(s["ng_recall"]),
            f"{s['threshold']:.3f}", "yes" if s["has_tflite"] else "no", READINESS_TEXT[info.readiness()[0]]]


class _ModelTable(QTableWidget):
    """A table whose smallest size still shows MIN_VISIBLE_ROWS rows (and grows with the layout)."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        rows = self.verticalHeader().defaultSectionSize() * MIN_VISIBLE_ROWS
        height = rows + self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        if self.horizontalScrollBar().isVisible():
            height += self.horizontalScrollBar().sizeHint().height()
        return QSize(hint.width(), max(hint.height(), height))


class ModelList(QWidget):
    models_changed = Signal()  # the list was read again (after any change of the catalogue)
    status_message = Signal(str)

    def __init__(self, models: ModelStore | ModelCatalogue, jobs: ModelJobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.catalogue = as_catalogue(models, self)
        self._jobs = jobs
        self._mapping = ClassMapping()
        self._tf_block_reason: str | None = None
        self.table = _ModelTable(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.activate_button = QPushButton("Activate", toolTip="Use the selected model at the station.")
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete…")
        self.export_button = QPushButton("Export TFLite", toolTip=EXPORT_TIP)
        self.import_button = QPushButton("Import .h5…", toolTip=IMPORT_TIP)
        self.message = QLabel(wordWrap=True)
        buttons = QHBoxLayout()
        for b in (self.activate_button, self.rename_button, self.delete_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(self._on_table_double_clicked)
        self.activate_button.clicked.connect(self._on_activate_clicked)
        self.rename_button.clicked.connect(self._on_rename_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.import_button.clicked.connect(self._on_import_clicked)
        jobs.model_imported.connect(self._on_jobs_model_imported)
        jobs.import_failed.connect(self._on_jobs_failed)
        jobs.model_exported.connect(self._on_jobs_model_exported)
        jobs.export_failed.connect(self._on_jobs_failed)
        jobs.busy_changed.connect(self._update_buttons)
        self.catalogue.changed.connect(self.refresh)
        self._scheme = theme.current_scheme()
        self.refresh()

    # ---- public -------------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Re-read the catalogue (metadata only: cheap), keeping the selection. Called on every change of the
        catalogue; callable by hand after the store's folder itself was replaced."""
        keep = self.selected_id()
        active = self.catalogue.active_id()
        infos = self.catalogue.models()  # newest first
        self.table.setRowCount(len(infos))
        bold = QFont()
        bold.setBold(True)
        active_brush = QBrush(theme.colour("goText"))
        not_ready_brush = QBrush(theme.colour("ngText"))
        station_column = COLUMNS.index("Station")
        kind_column = COLUMNS.index("Kind")
        for r, info in enumerate(infos):
            ready, verdict = info.readiness()
            for c, text in enumerate(row_texts(info, info.id == active)):
                item = QTableWidgetItem(text)
                item.setData(ID_ROLE, info.id)
                item.setToolTip(f"{info.id}\n{info.folder}")
                if c == kind_column:
                    item.setToolTip(KIND_TIPS[info.metadata.get("kind") == "anomaly"])
                if c == station_column:
                    item.setToolTip(verdict)  # the trade-off in words: what it catches, what it rejects
                    if ready is False:
                        item.setForeground(not_ready_brush)
                if info.id == active:
                    item.setFont(bold)
                    if c == 0:
                        item.setForeground(active_brush)
                self.table.setItem(r, c, item)
        if keep is not None:
            self.select_model(keep)
        self._update_buttons()
        self.models_changed.emit()

    def model_ids(self) -> list[str]:
        return [self.table.item(r, 0).data(ID_ROLE) for r in range(self.table.rowCount())]

    def select_model(self, model_id: str) -> bool:
        for r, mid in enumerate(self.model_ids()):
            if mid == model_id:
                self.table.selectRow(r)
                return True
        return False

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(ID_ROLE) if rows else None

    def set_mapping(self, mapping: ClassMapping) -> None:
        """The class folders an imported .h5 was trained on (decides its output direction)."""
        self._mapping = mapping

    def set_tf_jobs_blocked(self, reason: str | None) -> None:
        """Block export/import (TensorFlow work) with a reason, e.g. while a training run uses the CPU."""
        self._tf_block_reason = reason
        self._update_buttons()

    # ---- actions ------------------------------------------------------------------------------------
    @Slot(str)
    def activate(self, model_id: str) -> bool:
        """Make model_id the station's model. A model whose threshold check found it not ready asks first,
        with the trade-off in words; only the supervisor's "Activate anyway" overrides it."""
        try:
            ready, verdict = self.catalogue.get(model_id).readiness()
        except (ModelStoreError, OSError) as exc:
            return self._fail(f"cannot activate {model_id}: {exc}")
        if ready is False:
            box = QMessageBox(QMessageBox.Icon.Warning, "Activate model",
                              f"This model is not ready for the station:\n\n{verdict}\n\nActivate it anyway?",
                              QMessageBox.StandardButton.Cancel, self)
            box.setObjectName("activateNotReady")
            anyway = box.addButton("Activate anyway", QMessageBox.ButtonRole.AcceptRole)
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is not anyway:
                self._say("Not activated: the station keeps its model.")
                return False
        try:
            info = self.catalogue.activate(model_id)  # every page follows (catalogue.changed)
        except (ModelStoreError, OSError) as exc:
            return self._fail(f"cannot activate {model_id}: {exc}")
        self._say(f"{info.name} is now the active model.")
        return True

    @Slot()
    def _on_activate_clicked(self) -> None:
        if (model_id := self.selected_id()) is not None:
            self.activate(model_id)

    @Slot(QTableWidgetItem)
    def _on_table_double_clicked(self, _item) -> None:
        self._on_rename_clicked()

    @Slot()
    def _on_rename_clicked(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        name, ok = QInputDialog.getText(self, "Rename model", "New name:", text=info.name)
        if not ok or not name.strip() or name.strip() == info.name:
            return
        try:
            self.catalogue.rename(info.id, name.strip())
        except (ModelStoreError, OSError) as exc:
            self._fail(f"cannot rename {info.name}: {exc}")
            return
        self._say(f"Renamed {info.name} to {name.strip()}.")

    @Slot()
    def _on_delete_clicked(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        if info.id == self.catalogue.active_id():
            QMessageBox.information(self, "Delete model", f"{info.name} is the active model: the station uses it.\n"
                                    "Activate another model first, then delete this one.")
            self._fail(f"{info.name} is the active model and cannot be deleted.")
            return
        answer = QMessageBox.question(self, "Delete model", f"Delete {info.name} ({info.id})?\n\nIts files are "
                                      "removed from the model store. This cannot be undone.",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.catalogue.delete(info.id)
        except (ModelStoreError, OSError) as exc:
            self._fail(f"cannot delete {info.name}: {exc}")
            return
        self._say(f"Deleted {info.name}.")

    @Slot()
    def _on_export_clicked(self) -> None:
        info = self._selected_info()
        if info is not None:
            self._say(f"Exporting {info.name} to TFLite…")
            self._jobs.export_tflite(info)

    @Slot()
    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import an old Keras model", str(Path.home()),
                                              "Keras models (*.h5 *.keras);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        self._say(f"Importing {Path(path).name}… (output read as P(NG) for NG folder "
                  f"'{self._mapping.ng_folder}')")
        self._jobs.import_h5(path, self._mapping)

    @Slot(object)
    def _on_jobs_model_imported(self, info: ModelInfo) -> None:
        self._say(f"Imported {info.name}. It is not active; select it and press Activate to use it.")
        self.catalogue.notify_changed()  # the engine process wrote it: tell every page
        self.select_model(info.id)

    @Slot(object)
    def _on_jobs_model_exported(self, info: ModelInfo) -> None:
        self._say(f"Wrote {info.tflite_path}.")
        self.catalogue.notify_changed()

    @Slot(str)
    def _on_jobs_failed(self, reason: str) -> None:
        self._fail(reason)

    # ---- helpers ------------------------------------------------------------------------------------
    def _selected_info(self) -> ModelInfo | None:
        model_id = self.selected_id()
        if model_id is None:
            return None
        try:
            return self.catalogue.get(model_id)
        except ModelStoreError as exc:  # gone meanwhile (another program): show the list as it is now
            self._fail(str(exc))
            self.catalogue.notify_changed()
            return None

    @Slot()
    def _update_buttons(self, *_args) -> None:
        selected = self.selected_id()
        active = self.catalogue.active_id()
        busy = self._jobs.is_busy()
        self.activate_button.setEnabled(selected is not None and selected != active)
        self.rename_button.setEnabled(selected is not None)
        self.delete_button.setEnabled(selected is not None)
        self.delete_button.setToolTip("The active model cannot be deleted." if selected == active and selected
                                      else "Delete the selected model (asks first).")
        tf_ok = self._tf_block_reason is None and not busy
        self.export_button.setEnabled(selected is not None and tf_ok)
        self.import_button.setEnabled(tf_ok)
        reason = self._tf_block_reason or ("Another model job is running." if busy else "")
        self.export_button.setToolTip(reason or EXPORT_TIP)
        self.import_button.setToolTip(reason or IMPORT_TIP)

    def _say(self, text: str) -> None:
        self.message.setProperty("failed", False)
        self.message.setStyleSheet("")
        self.message.setText(text)
        self.status_message.emit(text)

    def _fail(self, text: str) -> bool:
        self.message.setProperty("failed", True)
        self.message.setStyleSheet(f"color: {theme.colour('ngText').name()};")
        self.message.setText(text)
        self.status_message.emit(text)
        return False

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the theme's colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        self.refresh()  # the active mark's colour
        if self.message.property("failed"):
            self.message.setStyleSheet(f"color: {theme.colour('ngText').name()};")
