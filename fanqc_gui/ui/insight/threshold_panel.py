"""Confusion matrix, ROC curve and the threshold: a slider with live NG recall, GO recall and false-reject
rate, the engine's suggested threshold for a target NG recall, and "Save threshold to model".

Scope: the model's validation images (kept aside during training: the honest measure) or every labelled
image of the workspace (includes the images it was trained on: optimistic).

A saved threshold decides what the station rejects, so `ThresholdCheck` lists what is risky about one
(too many good parts rejected, fewer defects caught than the model's target, too few images to judge) and
`confirm_threshold` asks the user with those numbers before it is saved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.insight.explanations import roc_points
from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
from fanqc_gui.core.models.evaluation import DEFAULT_TARGET_NG_RECALL, Metrics, compute_metrics, threshold_for_ng_recall
from fanqc_gui.core.models.model_store import ModelInfo
from fanqc_gui.ui import theme
from fanqc_gui.ui.insight.confusion_matrix import ConfusionMatrix

STEPS = 10_000  # slider resolution: 0.0001
TABLE_DELAY_MS = 40  # the table follows the slider at most this often
SCOPES = (("validation", "Validation images"), ("workspace", "Whole workspace"))
SCOPE_TIPS = {"validation": "The images the model was checked on during training, never learned from: the "
                            "honest measure",
              "workspace": "Every labelled image of the workspace, including those the model learned from: "
                           "optimistic"}
# Saving asks first when a threshold rejects more good parts than this share, or rests on fewer images.
MAX_FALSE_REJECT = 0.05
MIN_IMAGES = 20
MIN_NG = 5
SAVE_DIALOG = "saveThresholdDialog"


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


def _model_rate(info: ModelInfo | None, key: str, default: float) -> float:
    """A rate (0..1] the model records about its threshold: in its threshold rule, its threshold choice or its
    training options, in that order; else `default`."""
    meta = info.metadata if info is not None else {}
    for section in ("threshold_rule", "threshold_choice", "training"):
        part = meta.get(section)
        value = part.get(key) if isinstance(part, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1:
            return float(value)
    return default


def model_target_ng_recall(info: ModelInfo | None) -> float:
    """The NG recall a model is held to (its record, else core's default)."""
    return _model_rate(info, "target_ng_recall", DEFAULT_TARGET_NG_RECALL)


def model_max_false_reject(info: ModelInfo | None) -> float:
    """The share of good parts a model may reject before saving its threshold asks first."""
    return _model_rate(info, "max_false_reject", MAX_FALSE_REJECT)


@dataclass(frozen=True)
class ThresholdCheck:
    """What a threshold does on the labelled images it is judged on (GO=0, NG=1 labels, P(NG) scores)."""

    threshold: float
    target: float  # the model's target NG recall
    go: int
    ng: int
    rejected_go: int  # good parts called NG
    caught_ng: int  # defects called NG
    max_false_reject: float = MAX_FALSE_REJECT

    @classmethod
    def of(cls, labels, scores, threshold: float, target: float,
           max_false_reject: float = MAX_FALSE_REJECT) -> ThresholdCheck:
        y = np.asarray(labels).astype(int)
        called_ng = np.asarray(scores, dtype=np.float64) >= threshold
        return cls(float(threshold), float(target), int(np.sum(y == 0)), int(np.sum(y == 1)),
                   int(np.sum((y == 0) & called_ng)), int(np.sum((y == 1) & called_ng)), float(max_false_reject))

    @property
    def images(self) -> int:
        return self.go + self.ng

    def concerns(self) -> list[str]:
        """Why saving this threshold deserves a second look, with the numbers; empty when nothing does."""
        out = []
        if self.go and self.rejected_go / self.go > self.max_false_reject + 1e-12:
            out.append(f"rejects {_percent(self.rejected_go / self.go)} of good parts ({self.rejected_go} of "
                       f"{self.go}); the limit is {_percent(self.max_false_reject)}")
        if self.ng and self.caught_ng / self.ng < self.target:
            out.append(f"catches {_percent(self.caught_ng / self.ng)} of defects ({self.caught_ng} of {self.ng}); "
                       f"the model's target is {_percent(self.target)}")
        if self.images < MIN_IMAGES or self.ng < MIN_NG:
            out.append(f"is judged on only {self.images} labelled image(s), {self.ng} of them NG: too few to "
                       f"trust (at least {MIN_IMAGES}, with {MIN_NG} NG)")
        return out


def confirm_threshold(parent: QWidget, check: ThresholdCheck, model_name: str, on_what: str) -> bool:
    """Ask before saving a threshold with concerns; True when the user chose to save it anyway."""
    reasons = "\n".join(f"• {c}" for c in check.concerns())
    box = QMessageBox(QMessageBox.Icon.Warning, "Save this threshold?",
                      f"Threshold {check.threshold:.4f} for “{model_name}”, judged on {check.images} {on_what}:\n\n"
                      f"{reasons}\n\nThe camera station rejects parts by the saved threshold. Save it anyway?",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName(SAVE_DIALOG)
    box.button(QMessageBox.StandardButton.Save).setText("Save anyway")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    return box.exec() == QMessageBox.StandardButton.Save


def _label(text: str, tip: str) -> QLabel:
    return QLabel(text, toolTip=tip)


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
        self._scheme = theme.current_scheme()
        self.scope_box = QComboBox(toolTip="Which labelled images the matrix, the curve and the rates count")
        self.scope_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scope_box.setMinimumContentsLength(16)
        self.matrix = ConfusionMatrix()
        self.plot = pg.PlotWidget()
        self._setup_plot()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=STEPS)
        self.slider.setToolTip("An image is NG when its P(NG) is at least the threshold")
        # No keyboard tracking: a typed value counts once it is complete (Enter, Tab, leaving the box), so the
        # box never reformats a half-typed number such as "0." under the user's fingers.
        self.spin = QDoubleSpinBox(decimals=4, minimum=0.0, maximum=1.0, singleStep=0.01, keyboardTracking=False)
        self.spin.setToolTip("Type a threshold and press Enter, or use the arrows")
        self.ng_recall = QLabel()
        self.go_recall = QLabel()
        self.false_reject = QLabel()
        self.target = QDoubleSpinBox(decimals=1, minimum=50.0, maximum=100.0, singleStep=0.5, suffix=" %",
                                     value=100.0 * DEFAULT_TARGET_NG_RECALL, keyboardTracking=False)
        self.target.setToolTip("The share of defects the suggested threshold must catch (the model's target)")
        self.use_suggested = QPushButton("Use suggested")
        self.use_suggested.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.save_button = QPushButton("Save threshold to model")
        self.save_button.setStyleSheet("font-weight: bold; padding: 5px 12px;")
        self.reset_button = QPushButton("Back to saved", toolTip="Show the threshold saved in the model again")
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
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        self.diagonal = item.plot([0, 1], [0, 1], pen=pg.mkPen("#9aa3ae", width=1, style=Qt.PenStyle.DashLine))
        self.roc_curve = item.plot([], [], pen=pg.mkPen("#1f6fb4", width=2))
        self.roc_point = item.plot([], [], pen=None, symbol="o", symbolSize=11, symbolBrush="#e07b00",
                                   symbolPen=pg.mkPen("#7a4300", width=1))
        self.plot.setMinimumHeight(150)
        self.plot.setToolTip("ROC curve: every threshold's share of defects caught against good parts rejected; "
                             "the dot is the threshold shown")
        self._plot_title = ""
        self._colour_plot()

    def _colour_plot(self) -> None:
        """Background, axes, labels and curve in the theme's plot colours."""
        fg, bg = theme.colour("plotForeground"), theme.colour("plotBackground")
        item = self.plot.getPlotItem()
        self.plot.setBackground(bg)
        style = {"color": fg.name(), "font-size": "9pt"}
        item.setLabel("bottom", "good parts rejected", **style)
        item.setLabel("left", "defects caught", **style)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen(fg)
            item.getAxis(axis).setPen(pg.mkPen(fg, width=1))
        self.roc_curve.setPen(pg.mkPen(theme.colour("active"), width=2))
        item.setTitle(self._plot_title, color=fg.name(), size="9pt")

    def _set_plot_title(self, text: str) -> None:
        self._plot_title = text
        self.plot.getPlotItem().setTitle(text, color=theme.colour("plotForeground").name(), size="9pt")

    def _build_layout(self) -> None:
        scope = QHBoxLayout()
        scope.addWidget(QLabel("Measured on"))
        scope.addWidget(self.scope_box, 1)
        slider = QHBoxLayout()
        slider.addWidget(QLabel("Threshold"))
        slider.addWidget(self.slider, 1)
        slider.addWidget(self.spin)
        rates = QGridLayout()
        rates.setVerticalSpacing(2)
        rates.addWidget(_label("NG recall", "Defects caught: NG images the model calls NG"), 0, 0)
        rates.addWidget(self.ng_recall, 0, 1)
        rates.addWidget(_label("GO recall", "Good parts passed: GO images the model calls GO"), 1, 0)
        rates.addWidget(self.go_recall, 1, 1)
        rates.addWidget(_label("False rejects", "False-reject rate: good parts the model calls NG"), 2, 0)
        rates.addWidget(self.false_reject, 2, 1)
        rates.setColumnStretch(1, 1)
        suggest = QHBoxLayout()
        suggest.addWidget(QLabel("Target"))
        suggest.addWidget(self.target)
        suggest.addWidget(self.use_suggested, 1)
        save = QHBoxLayout()
        save.addWidget(self.save_button)
        save.addWidget(self.reset_button)
        save.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(5)
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

    def set_rows(self, rows: list[ImagePrediction], saved_threshold: float, target: float | None = None) -> None:
        """A new prediction run: the threshold starts at the model's saved one; target: the model's target NG
        recall (the suggestion aims at it)."""
        self.rows = rows
        self.saved_threshold = float(saved_threshold)
        if target is not None:
            self.target.blockSignals(True)
            self.target.setValue(100.0 * target)
            self.target.blockSignals(False)
        n_val = sum(1 for r in rows if r.in_validation and r.label is not None and r.p_ng is not None)
        n_all = sum(1 for r in rows if r.label is not None and r.p_ng is not None)
        self.scope_box.blockSignals(True)
        self.scope_box.clear()
        for (key, title), n in zip(SCOPES, (n_val, n_all), strict=True):
            if n or key == "workspace":
                self.scope_box.addItem(f"{title} ({n:,})", key)
                self.scope_box.setItemData(self.scope_box.count() - 1, SCOPE_TIPS[key],
                                           Qt.ItemDataRole.ToolTipRole)
        # Validation images by default (the honest measure), when they hold both classes: an anomaly model
        # trained on good parts alone has only GO among them, and no curve or threshold can be read from one
        # class, so the labelled images of the workspace are shown instead. The whole workspace if chosen.
        val_labels = {r.label for r in rows if r.in_validation and r.label is not None and r.p_ng is not None}
        wanted = self._chosen_scope if len(val_labels) == 2 else "workspace"
        self.scope_box.setCurrentIndex(max(0, self.scope_box.findData(wanted)))
        self.scope_box.blockSignals(False)
        self._threshold = self.saved_threshold
        self._show_saved()
        self.refresh()

    def reset(self, saved_threshold: float = 0.5, target: float | None = None) -> None:
        """As freshly built: no rows, no chosen cell, validation scope preferred (another workspace opened)."""
        self.matrix.release()
        self._chosen_scope = "validation"
        self._emit_timer.stop()
        self.set_rows([], saved_threshold, DEFAULT_TARGET_NG_RECALL if target is None else target)

    def set_scope(self, scope: str) -> None:
        index = self.scope_box.findData(scope)
        if index < 0:
            raise ValueError(f"scope {scope!r} is not available")
        self.scope_box.setCurrentIndex(index)

    def scope_text(self) -> str:
        """What the numbers are measured on, in words ("validation images")."""
        return "validation images" if self.scope == "validation" else "labelled images of the workspace"

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
            if widget is self.spin and widget.hasFocus() and widget.value() == round(value, widget.decimals()):
                continue  # the user may be typing into it: never rewrite its text under their fingers
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self._update_metrics()
        self._emit_timer.start()

    def check(self, threshold: float, target: float, max_false_reject: float = MAX_FALSE_REJECT) -> ThresholdCheck:
        """What `threshold` does on the images in scope, against the model's target NG recall."""
        return ThresholdCheck.of(self.labels, self.scores, threshold, target, max_false_reject)

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
    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() != self._scheme:
            self._scheme = theme.current_scheme()
            self._colour_plot()
            self._update_metrics()

    def _update_metrics(self) -> None:
        has = len(self.labels) > 0
        m = compute_metrics(self.labels, self.scores, self._threshold) if has else None
        self.metrics = m
        self.matrix.set_counts(m.confusion_matrix if m else [[0, 0], [0, 0]])
        self.save_button.setEnabled(m is not None)
        self.save_button.setToolTip("Write this threshold into the model: the camera station uses it" if m else
                                    "Predict the workspace first: a threshold is judged on labelled images")
        if m is None:
            for label in (self.ng_recall, self.go_recall, self.false_reject):
                label.setText("—")
            self.roc_point.setData([], [])
            self._set_plot_title("ROC: no labelled images")
            self._show_saved()
            return
        (go_go, go_ng), (ng_go, ng_ng) = m.confusion_matrix
        n_go, n_ng = go_go + go_ng, ng_go + ng_ng
        target = self.target.value() / 100.0
        if n_ng:
            colour = theme.colour("goText" if m.ng_recall >= target else "ngText").name()
            self.ng_recall.setText(f"<b style='color:{colour}'>{_percent(m.ng_recall)}</b> ({ng_ng} of {n_ng})")
        else:
            self.ng_recall.setText("— (no NG images here)")
        if n_go:
            self.go_recall.setText(f"<b>{_percent(m.go_recall)}</b> ({go_go} of {n_go})")
            self.false_reject.setText(f"<b>{_percent(m.false_reject_rate)}</b> ({go_ng} of {n_go})")
        else:
            self.go_recall.setText("— (no GO images here)")
            self.false_reject.setText("—")
        self.roc_point.setData([m.false_reject_rate], [m.ng_recall])
        auc = "n/a" if m.roc_auc is None else f"{m.roc_auc:.3f}"
        self._set_plot_title(f"ROC · area {auc} · ● = threshold {self._fmt(self._threshold)}")
        self._show_saved()

    def _update_suggestion(self) -> None:
        if not np.any(self.labels == 1):
            self._suggested = None
            self.use_suggested.setText("No NG images to aim at")
            self.use_suggested.setToolTip("The suggestion needs NG images among the images measured on")
            self.use_suggested.setEnabled(False)
            return
        self._suggested = threshold_for_ng_recall(self.labels, self.scores, self.target.value() / 100.0)
        self.use_suggested.setText(f"Use suggested: {self._fmt(self._suggested)}")
        self.use_suggested.setToolTip(f"Use the suggested threshold {self._fmt(self._suggested)}: the highest "
                                      f"whose NG recall on these images reaches the target")
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
        for box in (self.spin, self.target):
            if box.hasFocus():
                box.interpretText()  # a number typed but not yet confirmed with Enter counts
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
