"""The insight page: what a model learned (first-layer filters, feature maps), where it is wrong (per-image
predictions, confusion matrix, ROC), why (Grad-CAM; for an anomaly model its anomaly map, where the part
differs from the good parts), and acting on it (re-filing images, accepting inbox
suggestions, saving a threshold the station then uses).

    page = InsightPage(workspace, catalogue, journal=dataset_page.journal, thumbnails=thumbnail_loader)
    training_page.first_layer_weights_ready.connect(page.show_live_filters)  # live filters per epoch
    training_page.model_trained.connect(lambda model_id: page.refresh_models(prefer=model_id))

The page observes the ModelCatalogue (a plain ModelStore is wrapped in one) and saves thresholds through it,
so every page shows a saved threshold at once. Predictions run in a PredictionWorker; Keras work (filters,
feature maps, Grad-CAM) in an InsightWorker that owns the loaded model. The main window calls `shutdown()`
before closing.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.dataset.file_moves import MoveJournal
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.insight.workspace_predictions import WorkspacePredictions
from fanqc_gui.core.models.anomaly import is_anomaly_model
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, ModelStoreError, now_iso
from fanqc_gui.ui.insight.feature_map_view import FeatureMapView
from fanqc_gui.ui.insight.filter_grid import FilterGrid
from fanqc_gui.ui.insight.gradcam_view import GradcamView
from fanqc_gui.ui.insight.label_fixer import LabelFixer
from fanqc_gui.ui.insight.prediction_run import PredictionRunBar
from fanqc_gui.ui.insight.prediction_table import PredictionTable
from fanqc_gui.ui.insight.prediction_table_model import folder_of_path
from fanqc_gui.ui.insight.threshold_panel import (
    ThresholdPanel,
    confirm_threshold,
    model_max_false_reject,
    model_target_ng_recall,
)
from fanqc_gui.ui.models.model_chooser import ModelChooser
from fanqc_gui.workers.insight_worker import ImageInsight, InsightWorker, ModelFilters
from fanqc_gui.workers.model_catalogue import ModelCatalogue, as_catalogue
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

BUSY_WIDTH = 190  # the worker's status line: elided, never widens the page
WHY_TITLES = {False: "Why this verdict (Grad-CAM)", True: "Where it differs (anomaly map)"}
ANOMALY_FILTERS = ("An anomaly model learns no filters: it describes good parts with the frozen ImageNet "
                   "features of EfficientNet-Lite0 and scores how far a part's patches are from them. Its map of "
                   "where a part differs is shown above, for the image chosen in the table.")
ANOMALY_FEATURE_MAPS = ("Feature maps are shown for GO/NG classifiers. This anomaly model's map of where the part "
                        "differs is shown above.")


def _group(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    for w in widgets:
        layout.addWidget(w, 1 if w is widgets[-1] else 0)
    return box


class InsightPage(QWidget):
    status_message = Signal(str)
    files_moved = Signal(list)  # [(old, new)]: the dataset page can follow
    threshold_saved = Signal(str, float)  # model id, threshold

    def __init__(self, workspace: Workspace | None, models: ModelStore | ModelCatalogue,
                 journal: MoveJournal | None = None, parent: QWidget | None = None, *,
                 thumbnails: ThumbnailLoader | None = None):
        """models: the app's ModelCatalogue (or a ModelStore, wrapped in one); journal: the dataset page's
        MoveJournal (moves undo together); thumbnails: the app's shared ThumbnailLoader (without one the page
        runs its own, stopped by `shutdown`)."""
        super().__init__(parent)
        self.setObjectName("insightPage")
        self.catalogue = as_catalogue(models, self)
        self.store = self.catalogue.store
        self.workspace: Workspace | None = None
        self.predictions: WorkspacePredictions | None = None
        self._own_thumbnails = thumbnails is None
        self.thumbnails = thumbnails or ThumbnailLoader(self, threads=1)
        self._ran_for: tuple | None = None
        self._filters_for: str | None = None  # the model whose filters were asked for (TF loads then)
        self._live_updates = 0
        self._shut_down = False
        # Filters, feature maps and Grad-CAM read the Keras model; predictions and the threshold run on LiteRT.
        self._keras_missing = tf_runtime.missing_reason("Filters, feature maps and Grad-CAM")
        self.insight = InsightWorker(self.store, self)
        self.models = ModelChooser(self.catalogue)
        self.models.setMaximumWidth(420)
        self.reload_button = QPushButton("↻", toolTip="Re-read the model store")
        self.reload_button.setFixedWidth(32)
        self.run_bar = PredictionRunBar(self.store)
        self.busy_label = QLabel(objectName="hint")
        self.busy_label.setFixedWidth(BUSY_WIDTH)  # long texts must not widen the page
        self.table = PredictionTable(self.thumbnails)
        self.fixer = LabelFixer()
        self.gradcam = GradcamView()
        self.filters = FilterGrid()
        self.feature_maps = FeatureMapView()
        self.threshold = ThresholdPanel()
        self._build_layout()
        self._add_shortcuts()
        self._connect()
        self.set_workspace(workspace, journal)
        self.refresh_models()

    # ---- layout -----------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.models, 1)
        top.addWidget(self.reload_button)
        top.addSpacing(8)
        top.addWidget(self.run_bar, 2)
        top.addWidget(self.busy_label)
        left = _group("Every image: what the model says", self.fixer, self.table)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.filters, "Filters")
        self.tabs.setTabToolTip(0, "First-layer filters: the patterns the model's first convolution looks for")
        self.tabs.addTab(self.feature_maps, "Feature maps")
        self.tabs.setTabToolTip(1, "Feature maps of the chosen image: how each filter responds to it")
        self.tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.tabBar().setExpanding(False)
        middle = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.why_group = _group(WHY_TITLES[False], self.gradcam)
        middle.addWidget(self.why_group)
        middle.addWidget(self.tabs)
        middle.setSizes([400, 300])
        self.gradcam.title.hide()  # the group box says it
        right = _group("Confusion matrix and threshold", self.threshold)
        self.columns = columns = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        for widget in (left, middle, right):
            columns.addWidget(widget)
        columns.setSizes([560, 330, 390])
        columns.setStretchFactor(0, 3)
        columns.setStretchFactor(1, 2)
        columns.setStretchFactor(2, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(columns, 1)

    def _add_shortcuts(self) -> None:
        for key, folder in (("G", "GO"), ("N", "NG")):
            action = QAction(f"Move to {folder}", self.table.view, shortcut=QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, folder=folder: self.move_selected(folder))
            self.table.view.addAction(action)

    def _connect(self) -> None:
        self.catalogue.changed.connect(self._on_catalogue_changed)
        self.models.model_chosen.connect(self._on_models_model_chosen)
        self.reload_button.clicked.connect(self.catalogue.notify_changed)
        self.run_bar.start_requested.connect(self.run_predictions)
        self.run_bar.predictions_ready.connect(self._on_run_bar_predictions_ready)
        self.run_bar.prediction_failed.connect(self._on_run_bar_prediction_failed)
        self.table.current_changed.connect(self._on_table_current_changed)
        self.table.selection_changed.connect(self._on_table_selection_changed)
        self.threshold.threshold_changed.connect(self._on_threshold_changed)
        self.threshold.cell_toggled.connect(self._on_threshold_cell_toggled)
        self.threshold.save_requested.connect(self.save_threshold)
        self.table.cell_clear.clicked.connect(self.threshold.release_cell)
        for button in self.table.filter_buttons.values():
            button.clicked.connect(self.threshold.release_cell)
        self.fixer.move_requested.connect(self.move_selected)
        self.fixer.files_moved.connect(self.apply_moves)
        self.fixer.status_message.connect(self.status_message)
        self.insight.filters_ready.connect(self._on_insight_filters_ready)
        self.insight.image_ready.connect(self._on_insight_image_ready)
        self.insight.insight_failed.connect(self._on_insight_failed)
        self.insight.status_changed.connect(self._on_insight_status_changed)

    # ---- public -----------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None, journal: MoveJournal | None = None) -> None:
        """Show another workspace as if the page were freshly built on it; journal: the dataset page's, so
        moves are undone together. A run for the previous workspace is stopped and its result dropped."""
        self.workspace = workspace
        self._ran_for = None
        self.predictions = None
        self.run_bar.discard("Not predicted yet", False)
        self.table.reset()
        info = self.models.current_info()
        self.threshold.reset(info.threshold if info else 0.5, model_target_ng_recall(info) if info else None)
        self.fixer.set_context(workspace, journal)
        self.fixer.reset()
        self.busy_label.clear()
        self._clear_predictions("Open a workspace to see predictions." if workspace is None else "")
        self._maybe_run()

    @property
    def journal(self) -> MoveJournal | None:
        return self.fixer.journal

    @property
    def model_info(self) -> ModelInfo | None:
        return self.models.current_info()

    @Slot()
    def refresh_models(self, prefer: str | None = None) -> None:
        """Re-read the catalogue (it calls this on every change); `prefer` chooses a model by id."""
        if not self.models.refresh(prefer):
            info = self.models.current_info()
            if info is not None:
                self.threshold.mark_saved(info.threshold)
        if self.models.current_info() is None:
            self.filters.clear("No model in the store yet: train one on the Training page or import a .h5 file.")
            self._clear_predictions("No model to predict with.")

    @Slot(object)
    def show_live_filters(self, weights) -> None:
        """The first convolution's weights (kh, kw, in, out) of a model being trained, after each epoch."""
        self._live_updates += 1
        self.filters.show_weights(weights, f"Live: the model being trained, after epoch {self._live_updates}. "
                                           f"Choose a model above to see a saved one.")
        if self._live_updates == 1:
            self.tabs.setCurrentWidget(self.filters)

    @Slot()
    def run_predictions(self) -> None:
        """Predict every image of the workspace with the chosen model (restarts a run in progress)."""
        info = self.models.current_info()
        if self.workspace is None or info is None or self._shut_down:
            return
        self._ran_for = (info.id, str(self.workspace.root))
        self.run_bar.start(self.workspace, info)

    @Slot()
    def cancel_predictions(self) -> None:
        self.run_bar.cancel()

    def is_busy(self) -> bool:
        return self.run_bar.is_running()

    def move_selected(self, folder: str) -> None:
        """Move the selected images (not already there) into GO or NG."""
        rows = [r for r in self.table.selected_rows() if r.folder != folder]
        if not rows:
            self.status_message.emit(f"The selected images are already in {folder}.")
            return
        self.fixer.move([r.path for r in rows], folder)

    @Slot(list)
    def apply_moves(self, pairs: list) -> None:
        """Files moved (from here, or by the dataset page): the table, the matrix and suggestions follow."""
        if self.workspace is None or not self.table.model.rows:
            return
        ws = self.workspace
        dirs = {"GO": str(ws.go_dir), "NG": str(ws.ng_dir), "inbox": str(ws.inbox_dir)}
        pairs = [(str(a), str(b)) for a, b in pairs]
        if self.table.model.relocate(pairs, lambda p: folder_of_path(p, dirs)):
            for old, new in pairs:
                self.thumbnails.rename(old, new)
            self.table.proxy.refilter()
            self.threshold.refresh()
            self.fixer.update_suggestions(self.table.model.rows, self.threshold.threshold)
            self.files_moved.emit(pairs)
            self._on_table_current_changed(self.table.current_row())

    @Slot(float, object)
    def save_threshold(self, threshold: float, rule: dict | None = None, confirm: bool = True) -> bool:
        """Write the threshold into the chosen model's metadata (atomically, through the catalogue); the
        station picks it up. A threshold that rejects many good parts, misses the model's target NG recall or
        rests on too few images is saved only after the user says so (unless confirm is False)."""
        info = self.models.current_info()
        if info is None:
            return False
        target = model_target_ng_recall(info)
        check = self.threshold.check(threshold, target, model_max_false_reject(info))
        if confirm and check.concerns() and not confirm_threshold(self, check, info.name,
                                                                  self.threshold.scope_text()):
            self.status_message.emit(f"Threshold not saved: {info.name} keeps {info.threshold:.4f}.")
            return False
        rule = {**(rule or {}), "saved": now_iso()}
        rule.setdefault("target_ng_recall", target)  # what the model is held to next time
        try:
            new = self.catalogue.update_metadata(info.folder, threshold=float(threshold), threshold_rule=rule)
        except (ModelStoreError, OSError) as exc:
            self.status_message.emit(f"⚠ Could not save the threshold: {exc}")
            return False
        self.models.replace_info(new)
        self.threshold.mark_saved(new.threshold)
        active = self.catalogue.active_id() == new.id
        where = ("The camera station uses it from now on (this is the active model)." if active else
                 "The station will use it once this model is activated.")
        self.status_message.emit(f"Saved threshold {new.threshold:.4f} to {new.name}. {where}")
        self.threshold_saved.emit(new.id, new.threshold)
        return True

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the workers and wait for them (never terminates a thread). True when all ended in time."""
        self._shut_down = True
        ok = self.run_bar.shutdown(timeout_ms)
        self.insight.shutdown()
        if self._own_thumbnails:
            self.thumbnails.shutdown()
        return ok

    # ---- internals --------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._maybe_load_filters()
        self._maybe_run()

    def _maybe_load_filters(self) -> None:
        """TensorFlow and the Keras model load only once the page is on screen (never at start-up)."""
        info = self.models.current_info()
        if info is not None and self.isVisible() and self._filters_for != info.id and not self._shut_down:
            self._filters_for = info.id
            if is_anomaly_model(info.metadata):
                self.filters.clear(ANOMALY_FILTERS)
                return
            if self._keras_missing:
                self.filters.clear(self._keras_missing)
                return
            if not self._live_updates:
                self.filters.clear(f"Loading the filters of {info.name}…")
            self.insight.show_model(info)

    def _maybe_run(self) -> None:
        info = self.models.current_info()
        if (info is not None and self.workspace is not None and self.isVisible()
                and self._ran_for != (info.id, str(self.workspace.root))):
            self.run_predictions()

    def _clear_predictions(self, message: str) -> None:
        self.predictions = None
        info = self.models.current_info()
        self.table.set_rows([], self.threshold.threshold)
        self.threshold.set_rows([], info.threshold if info else 0.5, model_target_ng_recall(info) if info else None)
        self.fixer.update_suggestions([], 0.5)
        self.gradcam.clear()
        self.feature_maps.clear("Choose an image in the table to see how each filter responds to it.")
        can = self.workspace is not None and self.models.current_info() is not None
        self.run_bar.set_idle(message or "Not predicted yet", can)

    def _inspect(self, row) -> None:
        info = self.models.current_info()
        if row is None or info is None:
            return
        if row.p_ng is None:
            self.gradcam.show_error(row.error or "unreadable file")
            return
        if self._keras_missing and not is_anomaly_model(info.metadata):  # the anomaly map needs no TensorFlow
            self.gradcam.show_verdict_only(self._keras_missing, row.p_ng, row.verdict(self.threshold.threshold),
                                           row.folder)
            self.feature_maps.clear(self._keras_missing)
            return
        self.gradcam.show_loading(row.path)
        self.insight.inspect(info, row.path, towards=row.verdict(self.threshold.threshold))

    @Slot()
    def _on_catalogue_changed(self) -> None:
        if not self._shut_down:
            self.refresh_models()

    @Slot(str)
    def _on_insight_status_changed(self, text: str) -> None:
        metrics = self.busy_label.fontMetrics()
        self.busy_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, BUSY_WIDTH))
        self.busy_label.setToolTip(text)

    @Slot(object)
    def _on_models_model_chosen(self, info: ModelInfo | None) -> None:
        self._live_updates = 0
        self._ran_for = None
        self._filters_for = None
        if info is None:
            return
        anomaly = is_anomaly_model(info.metadata)
        self.why_group.setTitle(WHY_TITLES[anomaly])
        self.gradcam.set_anomaly(anomaly)
        self.table.model.set_anomaly(anomaly)
        self.filters.clear(f"The filters of {info.name} load when this page is shown.")
        self._clear_predictions("")
        self._maybe_load_filters()
        self._maybe_run()

    @Slot(object)
    def _on_run_bar_predictions_ready(self, result: WorkspacePredictions) -> None:
        info = self.models.current_info()
        if (info is None or self.workspace is None
                or self._ran_for != (result.model_id, str(self.workspace.root)) or result.model_id != info.id):
            return  # for a model or workspace that is no longer shown
        self.predictions = result
        self.table.set_rows(result.rows, info.threshold)
        self.threshold.set_rows(result.rows, info.threshold, model_target_ng_recall(info))
        self.fixer.update_suggestions(result.rows, self.threshold.threshold)
        if result.validation_missing:
            self.status_message.emit(f"{result.validation_missing} of the model's validation images are not in "
                                     f"this workspace (moved or another workspace).")
        if self.table.proxy.rowCount():
            self.table.select_proxy_row(0)

    @Slot(str)
    def _on_run_bar_prediction_failed(self, message: str) -> None:
        self.status_message.emit(f"Prediction failed: {message}")

    @Slot(object)
    def _on_table_current_changed(self, row) -> None:
        if row is None:
            self.gradcam.clear()
            return
        self._inspect(row)

    @Slot()
    def _on_table_selection_changed(self) -> None:
        self.fixer.update_buttons(bool(self.table.selected_rows()))

    @Slot(float)
    def _on_threshold_changed(self, threshold: float) -> None:
        self.table.set_threshold(threshold)
        self.fixer.update_suggestions(self.table.model.rows, threshold)
        row = self.table.current_row()
        if row is not None and self.gradcam.insight is not None and row.p_ng is not None:
            if not self.gradcam.insight.is_anomaly and row.verdict(threshold) != self.gradcam.insight.towards:
                self._inspect(row)  # the verdict flipped: show the evidence for the new one
            else:
                self.gradcam.show_insight(self.gradcam.insight, row.p_ng, row.verdict(threshold), row.folder,
                                          threshold)

    @Slot(object)
    def _on_threshold_cell_toggled(self, cell) -> None:
        self.table.set_cell_filter(cell)
        if cell is not None and self.table.proxy.rowCount():
            self.table.select_proxy_row(0)

    @Slot(object)
    def _on_insight_filters_ready(self, filters: ModelFilters) -> None:
        info = self.models.current_info()
        if info is None or filters.model_id != info.id or self._live_updates:
            return
        shapes = ", ".join(f"{name} {'×'.join(map(str, shape))}" for name, shape in filters.conv_layers)
        self.filters.set_kernels(filters.kernels, f"Model {info.name} · convolutions: {shapes}", filters.layer_name)

    @Slot(object)
    def _on_insight_image_ready(self, insight: ImageInsight) -> None:
        row = self.table.current_row()
        info = self.models.current_info()
        if row is None or info is None or insight.path != row.path or insight.model_id != info.id:
            return  # stale: another image or model is chosen now
        t = self.threshold.threshold
        self.gradcam.show_insight(insight, row.p_ng, row.verdict(t), row.folder, t)
        if insight.is_anomaly:
            self.feature_maps.clear(ANOMALY_FEATURE_MAPS)
        else:
            self.feature_maps.show_maps(insight.feature_maps, row.name)

    @Slot(str, str)
    def _on_insight_failed(self, kind: str, message: str) -> None:
        if kind == "filters":
            self.filters.clear(f"⚠ Cannot show the filters: {message}")
        else:
            self.gradcam.show_error(message)
            self.feature_maps.clear(f"⚠ {message}")
