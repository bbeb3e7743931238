"""The first convolution's learned kernels as a grid of small pictures (4 x 8 for 32 kernels).

Each kernel is drawn as an RGB picture (its red, green and blue weights as the pixel colour) or, with
"per input channel", as three blue-white-red maps. Pictures are scaled per kernel around zero
(core.insight.explanations.kernel_images) and drawn pixelated; hovering a kernel shows its weights.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from fanqc_gui.core.insight.explanations import kernel_images, kernel_text, kernels_from_weights
from fanqc_gui.ui import theme
from fanqc_gui.ui.insight.array_image import rgb_qimage

GAP = 4
RGB_COLUMNS = 8
CHANNEL_COLUMNS = 4


class _KernelCanvas(QWidget):
    hovered_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: list = []  # QImage per kernel
        self.texts: list[str] = []
        self.columns = RGB_COLUMNS
        self.hovered = -1
        self.message = "No model chosen"
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_tiles(self, images: list, texts: list[str], columns: int) -> None:
        self.images, self.texts, self.columns = images, texts, max(1, min(columns, len(images) or 1))
        self.hovered = -1
        self.update()

    def _grid(self) -> tuple[int, int, int, QRect]:
        """(rows, tile width, tile height, the grid's rectangle) fitted into the widget."""
        n = len(self.images)
        if not n:
            return 0, 0, 0, QRect()
        rows = math.ceil(n / self.columns)
        iw, ih = self.images[0].width(), self.images[0].height()
        avail_w = self.width() - GAP * (self.columns + 1)
        avail_h = self.height() - GAP * (rows + 1)
        pixel = max(1.0, min(avail_w / (self.columns * iw), avail_h / (rows * ih)))
        tw, th = int(iw * pixel), int(ih * pixel)
        total = QRect(0, 0, self.columns * tw + (self.columns + 1) * GAP, rows * th + (rows + 1) * GAP)
        total.moveCenter(self.rect().center())
        total.moveTop(0)
        return rows, tw, th, total

    def tile_rect(self, i: int) -> QRect:
        _, tw, th, total = self._grid()
        r, c = divmod(i, self.columns)
        return QRect(total.left() + GAP + c * (tw + GAP), total.top() + GAP + r * (th + GAP), tw, th)

    def index_at(self, pos) -> int:
        for i in range(len(self.images)):
            if self.tile_rect(i).adjusted(-GAP // 2, -GAP // 2, GAP // 2, GAP // 2).contains(pos):
                return i
        return -1

    def sizeHint(self) -> QSize:
        return QSize(360, 190)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 100)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self.index_at(event.pos())
            if i >= 0:
                QToolTip.showText(event.globalPos(), self.texts[i], self, self.tile_rect(i))
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def mouseMoveEvent(self, event) -> None:
        i = self.index_at(event.position().toPoint())
        if i != self.hovered:
            self.hovered = i
            self.hovered_changed.emit(i)
            self.update()

    def leaveEvent(self, event) -> None:
        if self.hovered != -1:
            self.hovered = -1
            self.hovered_changed.emit(-1)
            self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if not self.images:
            painter.setPen(theme.colour("hint"))  # read as drawn: follows the theme
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp weight pixels
        for i, image in enumerate(self.images):
            rect = self.tile_rect(i)
            painter.drawImage(rect, image)
            hot = i == self.hovered
            painter.setPen(QPen(theme.colour("drop" if hot else "border"), 2 if hot else 1))
            painter.drawRect(rect.adjusted(-1, -1, 0, 0))
        painter.end()


class FilterGrid(QWidget):
    """Public: set_kernels / show_weights / clear; tile_count, tile_image and tooltip_text for tests."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kernels: np.ndarray | None = None
        self._rgb_images: list[np.ndarray] = []
        self._channel_images: list[np.ndarray] = []
        self.title = QLabel("", objectName="sectionTitle")
        self.source = QLabel("", objectName="hint", wordWrap=True)
        self.per_channel = QCheckBox("Per channel (R, G, B)")
        self.per_channel.setToolTip("Show each kernel's red, green and blue weights as separate maps: "
                                    "red = positive, blue = negative, white = zero.")
        self.canvas = _KernelCanvas()
        self.legend = QLabel(wordWrap=True, objectName="hint")
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.per_channel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.source)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.legend)
        self.per_channel.toggled.connect(self._on_per_channel_toggled)
        self._update_legend()

    def set_kernels(self, kernels: np.ndarray, source: str = "", layer_name: str = "") -> None:
        """Kernels (n, kh, kw, in_ch), e.g. core.insight.explanations.first_layer_kernels(model)."""
        k = np.asarray(kernels, dtype=np.float32)
        self.kernels = k
        self._rgb_images = kernel_images(k, per_channel=False)
        self._channel_images = kernel_images(k, per_channel=True)
        n, kh, kw, ch = k.shape
        layer = f" ({layer_name})" if layer_name else ""
        self.title.setText(f"{n} kernels of {kh}×{kw}×{ch}{layer}")
        self.source.setText(source)
        self.per_channel.setEnabled(ch == 3)
        if ch != 3:
            self.per_channel.setChecked(True)
        self._show()

    @Slot(object)
    def show_weights(self, weights: np.ndarray, source: str = "") -> None:
        """A Conv2D kernel as Keras stores it, (kh, kw, in, out): what the training worker sends per epoch."""
        self.set_kernels(kernels_from_weights(weights), source)

    def clear(self, message: str) -> None:
        self.kernels = None
        self._rgb_images, self._channel_images = [], []
        self.title.setText("")
        self.source.setText("")
        self.canvas.message = message
        self.canvas.set_tiles([], [], RGB_COLUMNS)

    def tile_count(self) -> int:
        return len(self.canvas.images)

    def tile_image(self, i: int) -> np.ndarray:
        """The picture drawn for kernel i (RGB uint8, one pixel per weight)."""
        return (self._channel_images if self.per_channel.isChecked() else self._rgb_images)[i]

    def tooltip_text(self, i: int) -> str:
        return self.canvas.texts[i]

    def grid_shape(self) -> tuple[int, int]:
        """(rows, columns) as drawn."""
        n = self.tile_count()
        return (math.ceil(n / self.canvas.columns), self.canvas.columns) if n else (0, 0)

    def _show(self) -> None:
        if self.kernels is None:
            return
        per_channel = self.per_channel.isChecked()
        images = self._channel_images if per_channel else self._rgb_images
        texts = [kernel_text(k, i) for i, k in enumerate(self.kernels)]
        self.canvas.set_tiles([rgb_qimage(img) for img in images], texts,
                              CHANNEL_COLUMNS if per_channel else RGB_COLUMNS)
        self._update_legend()

    def _update_legend(self) -> None:
        if self.per_channel.isChecked():
            self.legend.setText("Each kernel: its R | G | B weights. Red = positive, blue = negative, white = 0. "
                                "Hover a kernel for its weights.")
        else:
            self.legend.setText("Each kernel's R, G, B weights as one colour picture: bright = positive, "
                                "dark = negative, grey = 0 (scaled per kernel). Hover a kernel for its weights.")

    @Slot(bool)
    def _on_per_channel_toggled(self, _checked: bool) -> None:
        self._show()
