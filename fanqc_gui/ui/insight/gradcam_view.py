""""Why this verdict": the image with a Grad-CAM heatmap of the last convolution laid over it (opacity
slider), its P(NG), the verdict at the current threshold and whether that matches the folder. For an anomaly
model the picture is its anomaly map instead (where the part differs from the good parts, outlined where it
reaches the threshold) and the number is its anomaly score; the view says which it shows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Slot
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from fanqc_gui.core.insight.explanations import heatmap_colors, overlay_heatmap
from fanqc_gui.core.models.anomaly import heat_map
from fanqc_gui.ui import theme
from fanqc_gui.ui.insight.array_image import ScaledImage, bgr_qimage
from fanqc_gui.workers.insight_worker import ImageInsight

DEFAULT_OPACITY = 45
# The verdict chip: white on the pane line colours (strong in both themes); no verdict: the theme's header.
VERDICT_COLOURS = {"NG": ("ngLine", None), "GO": ("goLine", None), None: ("header", "label")}


def verdict_style(verdict: str | None) -> str:
    fill, text = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS[None])
    colour = theme.colour(text).name() if text else "white"
    return f"color: {colour}; background: {theme.colour(fill).name()};"


class GradcamView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.insight: ImageInsight | None = None
        self.title = QLabel("Why this verdict", objectName="sectionTitle")
        self.file_label = QLabel("", objectName="hint")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.image = ScaledImage(smooth=True, min_side=160)
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=DEFAULT_OPACITY)
        self.opacity.setToolTip("0 % shows the photo only, 100 % the heatmap only")
        self.opacity_label = QLabel()
        self.score_caption = QLabel("P(NG)")
        self.opacity_caption = QLabel("Heatmap opacity")
        self.scale_low = QLabel("no evidence", objectName="hint")
        self.scale_high = QLabel("strong evidence", objectName="hint")
        self.p_ng_label = QLabel("–", objectName="bigNumber")
        self.p_ng_label.setStyleSheet("font-size: 20pt; font-weight: 700;")
        self.verdict_label = QLabel("")
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.folder_label = QLabel("", wordWrap=True)
        self.legend = QLabel(wordWrap=True, objectName="hint")
        self.colour_bar = ScaledImage(smooth=True, background="panel", min_side=8)
        bar = heatmap_colors(np.linspace(0.0, 1.0, 256, dtype=np.float32)[None, :].repeat(6, axis=0))
        self.colour_bar.set_image(bgr_qimage(bar))
        self.colour_bar.setFixedHeight(10)
        self._verdict: str | None = None
        self._folder = ""
        self._threshold: float | None = None  # None: no line saying whether the verdict is right
        self._scheme = theme.current_scheme()
        self._build_layout()
        self.opacity.valueChanged.connect(self._on_opacity_value_changed)
        self._on_opacity_value_changed(self.opacity.value())
        self.clear()

    def _build_layout(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.file_label, 1)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_caption)
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_label)
        facts = QGridLayout()
        facts.addWidget(self.score_caption, 0, 0)
        facts.addWidget(self.p_ng_label, 1, 0)
        facts.addWidget(QLabel("Verdict"), 0, 1)
        facts.addWidget(self.verdict_label, 1, 1)
        facts.addWidget(self.folder_label, 0, 2, 2, 1)
        facts.setColumnStretch(2, 1)
        scale = QHBoxLayout()
        scale.addWidget(self.scale_low)
        scale.addWidget(self.colour_bar, 1)
        scale.addWidget(self.scale_high)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.image, 1)
        layout.addLayout(opacity_row)
        layout.addLayout(scale)
        layout.addWidget(self.legend)
        layout.addLayout(facts)

    # ---- public -----------------------------------------------------------------------------------------
    def set_anomaly(self, anomaly: bool) -> None:
        """Name what is shown: an anomaly model's score and map, or a classifier's P(NG) and Grad-CAM."""
        self.score_caption.setText("Anomaly score" if anomaly else "P(NG)")
        self.opacity_caption.setText("Map opacity" if anomaly else "Heatmap opacity")
        self.scale_low.setText("like the good parts" if anomaly else "no evidence")
        self.scale_high.setText("differs (threshold)" if anomaly else "strong evidence")
        self.opacity.setToolTip("0 % shows the photo only, 100 % the anomaly map at full strength" if anomaly else
                                "0 % shows the photo only, 100 % the heatmap only")

    def clear(self, message: str = "Choose an image in the table to see where the model looked.") -> None:
        self.insight = None
        self.file_label.setText("")
        self.image.set_image(None, message)
        self._set_facts(None, None, "", None)
        self.legend.setText("")

    def show_verdict_only(self, message: str, p_ng: float | None, verdict: str | None, folder: str) -> None:
        """The engine's P(NG) and verdict without a heatmap (e.g. no TensorFlow); message says why."""
        self.clear(message)
        self._set_facts(p_ng, verdict, folder, None)

    def show_loading(self, path: str) -> None:
        self.file_label.setText(Path(path).name)
        if self.insight is None or self.insight.path != path:
            self.image.set_image(None, "Computing the heatmap…")

    def show_error(self, message: str) -> None:
        self.insight = None
        self.image.set_image(None, f"⚠ {message}")

    def show_insight(self, insight: ImageInsight, p_ng: float | None, verdict: str | None, folder: str,
                     threshold: float) -> None:
        """p_ng / verdict: the engine's (the table's) values at the current threshold; folder: GO, NG, inbox."""
        self.insight = insight
        self.file_label.setText(Path(insight.path).name)
        self._threshold = threshold
        self.set_anomaly(insight.is_anomaly)
        self._redraw()
        h, w = insight.input_size
        if insight.is_anomaly:
            rows, cols = insight.anomaly_map.shape
            self.legend.setText(
                f"<b>Anomaly map</b> (not Grad-CAM): colour where this part differs from the good parts the model "
                f"learned, red at the threshold {threshold:.3f}, outlined where it reaches it ({cols}×{rows} "
                f"patches of the {w}×{h} picture the model sees). Anomaly score {insight.p_ng:.4f}.")
        else:
            self.legend.setText(
                f"Red = where the last convolution found the most evidence for <b>{insight.towards}</b> (Grad-CAM, "
                f"computed on the {w}×{h} picture the model sees). Keras P(NG) {insight.p_ng:.4f}.")
        self._set_facts(p_ng, verdict, folder, threshold)

    def overlay_array(self) -> np.ndarray | None:
        """The picture currently drawn (BGR), for tests."""
        if self.insight is None:
            return None
        if self.insight.is_anomaly:
            threshold = self._threshold if self._threshold is not None else 0.5
            return heat_map.overlay(self.insight.bgr, self.insight.anomaly_map, threshold,
                                    alpha=self.opacity.value() / 100.0)
        return overlay_heatmap(self.insight.bgr, self.insight.heatmap, self.opacity.value() / 100.0)

    # ---- internals --------------------------------------------------------------------------------------
    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() != self._scheme:
            self._scheme = theme.current_scheme()
            self._show_verdict()

    def _redraw(self) -> None:
        picture = self.overlay_array()
        if picture is not None:
            self.image.set_image(bgr_qimage(picture))

    def _set_facts(self, p_ng, verdict, folder: str, threshold: float | None) -> None:
        self.p_ng_label.setText("–" if p_ng is None else f"{p_ng:.3f}")
        self.verdict_label.setText(f"  {verdict}  " if verdict else "")
        self._verdict, self._folder, self._threshold = verdict, folder, threshold
        self._show_verdict()

    def _show_verdict(self) -> None:
        self.verdict_label.setStyleSheet("font-size: 14pt; font-weight: 700; border-radius: 4px; padding: 2px 8px;"
                                         + verdict_style(self._verdict))
        agreement = "" if self._threshold is None else _agreement(self._folder, self._verdict, self._threshold)
        self.folder_label.setText(f"Filed in <b>{self._folder}</b><br>{agreement}" if self._folder else "")

    @Slot(int)
    def _on_opacity_value_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        self._redraw()


def _agreement(folder: str, verdict: str | None, threshold: float) -> str:
    if verdict is None:
        return "⚠ the engine could not read this file"
    if folder == "inbox":
        return f"Unsorted: the model says {verdict} (threshold {threshold:.3f})"
    if folder == verdict:
        return f"✓ right at threshold {threshold:.3f}"
    wrong = theme.colour("ngText").name()
    return (f"<span style='color:{wrong}'><b>✗ wrong</b></span> at threshold {threshold:.3f}: "
            f"mislabelled, or a case the model has not learned")
