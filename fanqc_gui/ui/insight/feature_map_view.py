"""Feature maps of one image: for every convolution layer, each filter's response as a small tile
(dark = no response, yellow = its strongest), so a user can see which filters react to the label, the
blades' edges or the defect. Hovering a tile names the filter and its strongest response."""
from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QToolTip, QVBoxLayout, QWidget

from fanqc_gui.core.insight.explanations import feature_mosaic
from fanqc_gui.ui.insight.array_image import ScaledImage, rgb_qimage

GAP = 1
MAX_COLUMNS = 8


def columns_for(channels: int) -> int:
    return min(MAX_COLUMNS, channels) if channels else 1


class _LayerTiles(ScaledImage):
    """One layer's mosaic; knows which tile is where, for the tooltip."""

    def __init__(self, name: str, maps: np.ndarray):
        super().__init__(smooth=False, background="panel", min_side=60)
        self.name = name
        self.maps = maps
        self.columns = columns_for(maps.shape[2])
        grey = feature_mosaic(maps, self.columns, GAP)
        colours = cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS)[..., ::-1]  # BGR -> RGB
        alpha = np.full(grey.shape, 255, np.uint8)
        alpha[_gap_mask(maps.shape, self.columns)] = 0  # the gaps show the theme's panel colour
        self.set_image(rgb_qimage(np.dstack([colours, alpha])))

    def channel_at(self, pos) -> int:
        rect = self.image_rect()
        if rect.isEmpty() or not rect.contains(pos):
            return -1
        h, w, c = self.maps.shape
        x = (pos.x() - rect.left()) * self.image().width() / rect.width()
        y = (pos.y() - rect.top()) * self.image().height() / rect.height()
        col, row = int(x // (w + GAP)), int(y // (h + GAP))
        i = row * self.columns + col
        return i if 0 <= col < self.columns and i < c else -1

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self.channel_at(event.pos())
            if i >= 0:
                peak = float(self.maps[:, :, i].max())
                text = (f"{self.name}, filter {i + 1} of {self.maps.shape[2]}: strongest response {peak:.3f}"
                        if peak > 0 else f"{self.name}, filter {i + 1}: no response to this image")
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


def _gap_mask(shape: tuple[int, int, int], columns: int) -> np.ndarray:
    h, w, c = shape
    rows = math.ceil(c / columns)
    mask = np.ones((rows * (h + GAP) - GAP, columns * (w + GAP) - GAP), bool)
    for i in range(c):
        r, col = divmod(i, columns)
        mask[r * (h + GAP):r * (h + GAP) + h, col * (w + GAP):col * (w + GAP) + w] = False
    return mask


class FeatureMapView(QScrollArea):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content = QWidget()
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self._layout.setSpacing(4)
        self.setWidget(self._content)
        self.layers: list[_LayerTiles] = []
        self._note = QLabel(wordWrap=True, objectName="hint")
        self.clear("Choose an image in the table to see how each filter responds to it.")

    def clear(self, message: str) -> None:
        self._reset()
        self._note.setText(message)
        self._layout.addWidget(self._note)
        self._layout.addStretch(1)

    def show_maps(self, feature_maps, image_name: str = "") -> None:
        """feature_maps: (layer name, HxWxC) for every convolution layer, in order."""
        self._reset()
        of = f" of {image_name}" if image_name else ""
        self._note.setText(f"Responses{of}: one tile per filter, dark = none, yellow = that filter's strongest. "
                           f"Hover a tile for its value.")
        self._layout.addWidget(self._note)
        for name, maps in feature_maps:
            h, w, c = maps.shape
            silent = int(np.sum(maps.reshape(-1, c).max(axis=0) <= 0))
            quiet = f" · {silent} silent" if silent else ""
            self._layout.addWidget(QLabel(f"<b>{name}</b> — {c} filters, {w}×{h} each{quiet}"))
            tiles = _LayerTiles(name, maps)
            self.layers.append(tiles)
            self._layout.addWidget(tiles)
        self._layout.addStretch(1)
        self._fit_heights()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_heights()

    def _fit_heights(self) -> None:
        width = self.viewport().width() - 12
        for tiles in self.layers:
            tiles.setFixedHeight(max(40, tiles.heightForWidth(width)))

    def _reset(self) -> None:
        self.layers = []
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget()
            if widget is not None and widget is not self._note:
                widget.deleteLater()
