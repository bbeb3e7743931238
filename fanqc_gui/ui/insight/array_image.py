"""numpy pictures on screen: a QImage that owns its pixels, and a widget that draws one scaled to fit."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from fanqc_gui.ui import theme


def rgb_qimage(rgb: np.ndarray) -> QImage:
    """RGB (HxWx3), RGBA (HxWx4) or grey (HxW) uint8 -> a QImage with its own copy of the pixels."""
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    h, w, channels = a.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(a.data, w, h, channels * w, fmt).copy()


def bgr_qimage(bgr: np.ndarray) -> QImage:
    return rgb_qimage(np.asarray(bgr)[..., ::-1])


class ScaledImage(QWidget):
    """Draws one image as large as fits, keeping its aspect ratio; smooth or pixelated (for tiny maps).

    background: a colour ("#1f2329": a dark frame for photos in either theme) or a theme colour name
    ("panel"), read as it is drawn so it follows the theme."""

    def __init__(self, smooth: bool = True, background: str = "#1f2329", min_side: int = 120,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._smooth = smooth
        self._background = background
        self._placeholder = ""
        self._min_side = min_side
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None, placeholder: str = "") -> None:
        self._image = image
        self._placeholder = placeholder
        self.updateGeometry()
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def placeholder(self) -> str:
        """The text shown instead of an image."""
        return self._placeholder

    def background(self) -> QColor:
        """The colour behind the image now (a theme name is looked up in the theme shown)."""
        name = self._background
        return theme.colour(name) if name in theme.LIGHT else QColor(name)

    def minimumSizeHint(self) -> QSize:
        return QSize(self._min_side, self._min_side)

    def hasHeightForWidth(self) -> bool:
        return self._image is not None and not self._image.isNull()

    def heightForWidth(self, width: int) -> int:
        if not self.hasHeightForWidth():
            return super().heightForWidth(width)
        return max(1, round(width * self._image.height() / self._image.width()))

    def image_rect(self) -> QRect:
        """Where the image is drawn inside the widget."""
        if self._image is None or self._image.isNull():
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRect(0, 0, size.width(), size.height())
        rect.moveCenter(self.rect().center())
        return rect

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        background = self.background()
        painter.fillRect(self.rect(), background)
        if self._image is not None and not self._image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
            painter.drawImage(self.image_rect(), self._image)
        elif self._placeholder:
            painter.setPen(QColor("#c9cdd3") if background.lightness() < 128 else theme.colour("hint"))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
        painter.end()
