"""Confusion matrix, ROC curve and the threshold: a slider with live NG recall, GO recall and false-reject
rate, the engine's suggested threshold for a target NG recall, and "Save threshold to model".

Scope: the model's validation images (kept aside during training: the honest measure) or every labelled
image of the workspace (includes the images it was trained on: optimistic).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from ..core.evaluation import DEFAULT_TARGET_NG_RECALL, Metrics, compute_metrics, threshold_for_ng_recall
from ..core.insight import roc_points
from ..core.workspace_predictions import ImagePrediction
from .confusion_matrix import ConfusionMatrix

STEPS = 10_000  # slider resolution: 0.0001
TABLE_DELAY_MS = 40  # the table follows the slider at most this often
SCOPES = (("validation", "Validation images"), ("workspace", "Whole workspace (labelled)"))


def _percent(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def fmt_threshold(value: float, *others: float) -> str:
    """4 decimals, or as many more (up to 8) as it takes to tell value apart from different `others`:
    a suggested 0.270364 and a saved 0.270366 must not both read 0.2704."""
    for decimals in range(4, 9):
        text = f"{value:.{decimals}f}"
        if all(f"{o:.{decimals}f}" != text for o in others if o != value):
            return text
    return f"{value:.8f}"


class ThresholdPanel(QWidget):
    threshold_changed = Signal(float)  # coalesced while dragging
    cell_toggled = Signal(object)  # (folder, verdict, validation_only) or None
    save_requested = Signal(float, object)  # threshold, threshold_rule dict

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[ImagePrediction] = []
        self.labels = np.zeros(0, int)
        self.scores = np.zeros(0)
        self.saved_threshold = 0.5
        self.metrics: Metrics | None = None
        self._threshold = 0.5
        self.scope_box = QComboBox()
        self.matrix = ConfusionMatrix()
        self.plot = pg.PlotWidget(background="w")
        self._setup_plot()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=STEPS)
        self.spin = QDoubleSpinBox(decimals=4, minimum=0.0, maximum=1.0, singleStep=0.01)
        self.ng_recall = QLabel()
        self.go_recall = QLabel()
        self.false_reject = QLabel()
        self.target = QDoubleSpinBox(decimals=1, minimum=50.0, maximum=100.0, singleStep=0.5, suffix=" %",
                                     value=100.0 * DEFAULT_TARGET_NG_RECALL)
        self.use_suggested = QPushButton("Use the suggested threshold")
        self.use_suggested.setToolTip("The highest threshold whose NG recall on these images reaches the target")
        self.save_button = QPushButton("Save threshold to model")
        self.save_button.setStyleSheet("font-weight: bold; padding: 5px 12px;")
        self.reset_button = QPushButton("Back to saved")
        self.saved_label = QLabel(objectName="hint", wordWrap=True)
        self._suggested: float | None = None
        self._chosen_scope = "validation"
        self._emit_timer = QTimer(self, singleShot=True, interval=TABLE_DELAY_MS)
        self._build_layout()
        self._connect()
        self.set_rows([], 0.5)

    def _setup_plot(self) -> None:
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("bottom", "good parts rejected (false-reject rate)")
        item.setLabel("left", "defects caught (NG recall)")
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen("#222")
            item.getAxis(axis).setPen("#888")
        item.plot([0, 1], [0, 1], pen=pg.mkPen("#9aa3ae", width=1, style=Qt.PenStyle.DashLine))
        self.roc_curve = item.plot([], [], pen=pg.mkPen("#1f6fb4", width=2))
        self.roc_point = item.plot([], [], pen=None, symbol="o", symbolSize=11, symbolBrush="#e07b00",
                                   symbolPen=pg.mkPen("#7a4300", width=1))
        self.plot.setMinimumHeight(170)

    def _build_layout(self) -> None:
        scope = QHBoxLayout()
        scope.addWidget(QLabel("Measured on"))
        scope.addWidget(self.scope_box, 1)
        slider = QHBoxLayout()
        slider.addWidget(QLabel("Threshold"))
        slider.addWidget(self.slider, 1)
        slider.addWidget(self.spin)
        rates = QGridLayout()
        rates.addWidget(QLabel("NG recall (defects caught)"), 0, 0)
        rates.addWidget(self.ng_recall, 0, 1)
        rates.addWidget(QLabel("GO recall (good parts passed)"), 1, 0)
        rates.addWidget(self.go_recall, 1, 1)
        rates.addWidget(QLabel("False-reject rate"), 2, 0)
        rates.addWidget(self.false_reject, 2, 1)
        rates.setColumnStretch(1, 1)
        suggest = QHBoxLayout()
        suggest.addWidget(QLabel("Target NG recall"))
        suggest.addWidget(self.target)
        suggest.addWidget(self.use_suggested, 1)
        save = QHBoxLayout()
        save.addWidget(self.save_button)
        save.addWidget(self.reset_button)
        save.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(scope)
        layout.addWidget(self.matrix)
        layout.addWidget(self.plot, 1)
        layout.addLayout(slider)
        layout.addLayout(rates)
        layout.addLayout(suggest)
        layout.addLayout(save)
        layout.addWidget(self.saved_label)

    def _connect(self) -> None:
        self.scope_box.currentIndexChanged.connect(self._on_scope_box_current_index_changed)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.spin.valueChanged.connect(self._on_spin_value_changed)
        self.target.valueChanged.connect(self._on_target_value_changed)
        self.use_suggested.clicked.connect(self._on_use_suggested_clicked)
        self.reset_button.clicked.connect(lambda: self.set_threshold(self.saved_threshold))
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.matrix.cell_toggled.connect(self._on_matrix_cell_toggled)
        self._emit_timer.timeout.connect(lambda: self.threshold_changed.emit(self._threshold))

    # ---- public -----------------------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def scope(self) -> str:
        return self.scope_box.currentData() or "workspace"

    def set_rows(self, rows: list[ImagePrediction], saved_threshold: float) -> None:
        """A new prediction run: the threshold starts at the model's saved one."""
        self.rows = rows
        self.saved_threshold = float(saved_threshold)
        n_val = sum(1 for r in rows if r.in_validation and r.label is not None and r.p_ng is not None)
        n_all = sum(1 for r in rows if r.label is not None and r.p_ng is not None)
        self.scope_box.blockSignals(True)
        self.scope_box.clear()
        if n_val:
            self.scope_box.addItem(f"{SCOPES[0][1]} ({n_val:,})", SCOPES[0][0])
        self.scope_box.addItem(f"{SCOPES[1][1]} ({n_all:,})", SCOPES[1][0])
        # validation images by default (the honest measure); the whole workspace if the user chose it
        wanted = self._chosen_scope if n_val else "workspace"
        self.scope_box.setCurrentIndex(max(0, self.scope_box.findData(wanted)))
        self.scope_box.blockSignals(False)
        self._threshold = self.saved_threshold
        self._show_saved()
        self.refresh()

    def set_scope(self, scope: str) -> None:
        index = self.scope_box.findData(scope)
        if index < 0:
            raise ValueError(f"scope {scope!r} is not available")
        self.scope_box.setCurrentIndex(index)

    def refresh(self) -> None:
        """Labels or rows changed (an image was re-filed): recompute everything for the scope."""
        validation_only = self.scope == "validation"
        chosen = [r for r in self.rows if r.label is not None and r.p_ng is not None
                  and (r.in_validation or not validation_only)]
        self.labels = np.array([r.label for r in chosen], dtype=int)
        self.scores = np.array([r.p_ng for r in chosen], dtype=np.float64)
        fpr, tpr, _ = roc_points(self.labels, self.scores) if len(chosen) else (np.zeros(0), np.zeros(0), None)
        self.roc_curve.setData(fpr, tpr)
        self._update_suggestion()
        self.set_threshold(self._threshold, force=True)

    def set_threshold(self, threshold: float, force: bool = False) -> None:
        threshold = float(np.clip(threshold, 0.0, 1.0))
        if threshold == self._threshold and not force:
            return
        self._threshold = threshold
        for widget, value in ((self.slider, round(threshold * STEPS)), (self.spin, threshold)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self._update_metrics()
        self._emit_timer.start()

    def flush(self) -> None:
        """Deliver a pending threshold change now (tests, screenshots)."""
        if self._emit_timer.isActive():
            self._emit_timer.stop()
            self.threshold_changed.emit(self._threshold)

    def release_cell(self) -> None:
        self.matrix.release()

    def suggested(self) -> float | None:
        return self._suggested

    # ---- internals --------------------------------------------------------------------------------------
    def _update_metrics(self) -> None:
        has = len(self.labels) > 0
        m = compute_metrics(self.labels, self.scores, self._threshold) if has else None
        self.metrics = m
        self.matrix.set_counts(m.confusion_matrix if m else [[0, 0], [0, 0]])
        self.save_button.setEnabled(bool(self.rows))
        if m is None:
            for label in (self.ng_recall, self.go_recall, self.false_reject):
                label.setText("–")
            self.roc_point.setData([], [])
            self.plot.getPlotItem().setTitle("ROC: no labelled images", color="#222", size="10pt")
            return
        (go_go, go_ng), (ng_go, ng_ng) = m.confusion_matrix
        target = self.target.value() / 100.0
        colour = "#1d6b33" if m.ng_recall >= target else "#c62828"
        self.ng_recall.setText(f"<b style='color:{colour}'>{_percent(m.ng_recall)}</b> ({ng_ng} of {ng_ng + ng_go})")
        self.go_recall.setText(f"<b>{_percent(m.go_recall)}</b> ({go_go} of {go_go + go_ng})")
        self.false_reject.setText(f"<b>{_percent(m.false_reject_rate)}</b> ({go_ng} of {go_go + go_ng})")
        self.roc_point.setData([m.false_reject_rate], [m.ng_recall])
        auc = "n/a" if m.roc_auc is None else f"{m.roc_auc:.3f}"
        self.plot.getPlotItem().setTitle(f"ROC curve · area {auc} · ● = threshold {self._fmt(self._threshold)}",
                                         color="#222", size="10pt")
        self._show_saved()

    def _update_suggestion(self) -> None:
        if not np.any(self.labels == 1):
            self._suggested = None
            self.use_suggested.setText("No NG images to aim at")
            self.use_suggested.setEnabled(False)
            return
        self._suggested = threshold_for_ng_recall(self.labels, self.scores, self.target.value() / 100.0)
        self.use_suggested.setText(f"Use the suggested threshold: {self._fmt(self._suggested)}")
        self.use_suggested.setEnabled(True)

    @Slot(int)
    def _on_scope_box_current_index_changed(self, _index: int) -> None:
        self._chosen_scope = self.scope
        self.refresh()
        cell = self.matrix.chosen()
        if cell is not None:
            self.cell_toggled.emit((*cell, self.scope == "validation"))

    @Slot(int)
    def _on_slider_value_changed(self, value: int) -> None:
        self.set_threshold(value / STEPS)

    @Slot(float)
    def _on_spin_value_changed(self, value: float) -> None:
        self.set_threshold(value)

    @Slot(float)
    def _on_target_value_changed(self, _value: float) -> None:
        self._update_suggestion()
        self._update_metrics()

    @Slot()
    def _on_use_suggested_clicked(self) -> None:
        if self._suggested is not None:
            self.set_threshold(self._suggested)

    @Slot(object)
    def _on_matrix_cell_toggled(self, cell) -> None:
        self.cell_toggled.emit(None if cell is None else (*cell, self.scope == "validation"))

    @Slot()
    def _on_save_button_clicked(self) -> None:
        m = self.metrics
        rule = {"source": "insight page", "on": self.scope, "images": int(len(self.labels))}
        if self._suggested is not None and abs(self._suggested - self._threshold) < 1e-12:
            rule["target_ng_recall"] = self.target.value() / 100.0
        if m is not None:
            rule.update(ng_recall=m.ng_recall, go_recall=m.go_recall, false_reject_rate=m.false_reject_rate)
        self.save_requested.emit(self._threshold, rule)

    def mark_saved(self, threshold: float) -> None:
        self.saved_threshold = float(threshold)
        self._show_saved()
        self._update_suggestion()

    def _fmt(self, value: float) -> str:
        others = [v for v in (self._threshold, self.saved_threshold, self._suggested) if v is not None]
        return fmt_threshold(value, *others)

    def _show_saved(self) -> None:
        now = "" if self._threshold == self.saved_threshold else f" (shown: {self._fmt(self._threshold)}, not saved)"
        self.saved_label.setText(f"Saved in the model: {self._fmt(self.saved_threshold)}{now}")
