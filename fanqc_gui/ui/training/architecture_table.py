"""The network as a table: each layer's output shape, parameter count and what it does, in plain words.

Computed without TensorFlow (core.models.architecture.reference_layer_table), so it shows before TF is loaded and
follows the image-size option at once.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QBrush, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.models.architecture import LOSS_EXPLANATION, reference_layer_table

KIND_NAMES = {
    "InputLayer": "Input image",
    "Conv2D": "Convolution + ReLU",
    "MaxPooling2D": "Max pooling 2x2",
    "Flatten": "Flatten",
    "Dense": "Dense",
}
COLUMNS = ("Layer", "Output shape", "Parameters")
# The other networks in words (the table is the reference CNN's): what they are and what a user can see of them.
OTHER_NETWORKS = {
    "pretrained": "<b>Pretrained preset</b>: EfficientNet-Lite0 with ImageNet weights (frozen, 4.7 M parameters) "
                  "computes mid- and high-level features once per image (cached); only a small logistic head is "
                  "trained on them, so a few hundred images are enough. The input keeps the images' aspect ratio "
                  "('Input size' on the Options tab). Its first convolution's 32 filters come from ImageNet.",
    "anomaly": "<b>Find anomalies</b>: the same EfficientNet-Lite0 ImageNet backbone (frozen) describes every 8x8 "
               "patch of a good part by its features after blocks 4 and 10. PaDiM fits a Gaussian per patch "
               "position; PatchCore keeps a memory bank of good patches. A new part's score is how far its most "
               "unusual patches are from the good ones, and the map shows where. Nothing is trained by gradient "
               "descent: there are no epochs, loss or learned filters.",
}


def shape_text(shape: tuple) -> str:
    if len(shape) > 1:
        return " x ".join(str(v) for v in shape)
    return f"{shape[0]:,} value{'s' if shape[0] != 1 else ''}"


class ArchitectureTable(QWidget):
    """Two rows per layer: its kind, output shape and parameter count, then what it does in words."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.total_label = QLabel(wordWrap=True)
        self.loss_label = QLabel(LOSS_EXPLANATION, wordWrap=True)
        self.other_label = QLabel(wordWrap=True)  # another preset or mode: its network in words
        self.other_label.hide()
        self.network = "reference"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.other_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.total_label)
        layout.addWidget(self.loss_label)
        self.image_size = 0
        self._rows: list[list[str]] = []
        self.table.viewport().installEventFilter(self)
        self.set_image_size(80)

    def set_network(self, network: str) -> None:
        """"reference" (the table), "pretrained" or "anomaly" (described in words above the reference table,
        which is then hidden: it would describe a network that is not trained)."""
        self.network = network
        other = OTHER_NETWORKS.get(network)
        self.other_label.setText(other or "")
        self.other_label.setVisible(other is not None)
        for widget in (self.table, self.total_label, self.loss_label):
            widget.setVisible(other is None)

    def set_image_size(self, image_size: int) -> None:
        if image_size == self.image_size:
            return
        self.image_size = image_size
        rows = reference_layer_table(image_size)
        self.table.clearSpans()
        self.table.setRowCount(2 * len(rows))
        self._rows = []
        explanation_colour = self._explanation_brush()
        for i, row in enumerate(rows):
            kind = KIND_NAMES.get(row.kind, row.kind)
            if row.name == "p_ng":
                kind = "Dense + sigmoid (output)"
            elif row.kind == "Dense":
                kind = "Dense + ReLU"
            cells = [kind, shape_text(row.output_shape), f"{row.params:,}"]
            self._rows.append(cells + [row.explanation])
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"layer '{row.name}'")
                font = item.font()
                font.setBold(True)
                item.setFont(font)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(2 * i, c, item)
            note = QTableWidgetItem(row.explanation)
            note.setForeground(explanation_colour)
            self.table.setItem(2 * i + 1, 0, note)
            self.table.setSpan(2 * i + 1, 0, 1, len(COLUMNS))
        self._fit_rows()
        total = sum(row.params for row in rows)
        self.total_label.setText(f"{total:,} learned parameters in total. "
                                 f"Input {shape_text(rows[0].output_shape)} (width x height x colour channels).")

    def _explanation_brush(self) -> QBrush:
        return QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # another theme: the explanations' grey follows it
            brush = self._explanation_brush()
            for r in range(1, self.table.rowCount(), 2):
                self.table.item(r, 0).setForeground(brush)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_rows()  # wrapped explanations need another height at another width
        return super().eventFilter(watched, event)

    def _fit_rows(self) -> None:
        """Qt sizes a spanned row by its first column only: give each explanation the height it wraps to."""
        self.table.resizeRowsToContents()
        metrics = QFontMetrics(self.table.font())
        width = max(100, self.table.viewport().width() - 12)
        for r in range(1, self.table.rowCount(), 2):
            text = self.table.item(r, 0).text()
            box = metrics.boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, text)
            self.table.setRowHeight(r, box.height() + 8)

    def row_texts(self) -> list[list[str]]:
        """Per layer: [kind, output shape, parameters, explanation], as shown."""
        return [list(r) for r in self._rows]
