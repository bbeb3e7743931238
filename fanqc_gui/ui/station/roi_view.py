"""The live picture with the region of interest: drag to draw a new rectangle, drag inside it to move it.

Only the region is judged; outside it the picture is dimmed. The rectangle is drawn in the colour of the
last verdict. Frames arrive as BGR numpy arrays; painting scales them to fit, keeping the aspect ratio.
An anomaly model's map (the judged crop with the map drawn over it, core/models/anomaly/heat_map.py) is painted
over the region it judged until the next verdict.
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from fanqc_gui.core.station.station_settings import Roi

MIN_ROI_PX = 8
VERDICT_COLOURS = {"GO": QColor(40, 200, 90), "NG": QColor(235, 50, 50), None: QColor(255, 200, 0)}


class RoiView(QWidget):
    roi_changed = Signal(object)  # Roi, or None for the whole frame (after a drag ends)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._rgb: np.ndarray | None = None   # keeps the QImage's pixels alive
        self._image: QImage | None = None
        self._roi: Roi | None = None
        self._verdict: str | None = None
        self._overlay: tuple[np.ndarray, QImage, Roi] | None = None  # keeps the pixels alive with the QImage
        self._drag_start: QPointF | None = None   # image coordinates
        self._drag_roi: Roi | None = None         # ROI when a move started
        self._rubber: Roi | None = None
        self._moving = False
        self.placeholder = "No picture yet: choose a source and press Start"

    # ---- model -> view -------------------------------------------------------------------------------
    def set_frame(self, bgr: np.ndarray) -> None:
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        h, w = rgb.shape[:2]
        self._rgb = rgb
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.update()

    def set_overlay(self, bgr: np.ndarray | None, roi: Roi | None = None) -> None:
        """Paint bgr (the judged crop with its anomaly map) over roi; None removes it."""
        if bgr is None or roi is None:
            if self._overlay is not None:
                self._overlay = None
                self.update()
            return
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        h, w = rgb.shape[:2]
        self._overlay = (rgb, QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888), roi)
        self.update()

    def has_overlay(self) -> bool:
        return self._overlay is not None

    def clear_frame(self) -> None:
        """Back to the placeholder (another workspace opened: the old picture and verdict are gone)."""
        self._overlay = None
        self._rgb = self._image = None
        self._verdict = None
        self._rubber = self._drag_start = None
        self.update()

    def frame_size(self) -> tuple[int, int] | None:
        return None if self._rgb is None else (self._rgb.shape[1], self._rgb.shape[0])

    def set_roi(self, roi: Roi | None) -> None:
        if roi != self._roi:
            self._overlay = None  # the map of another region
        self._roi = roi
        self.update()

    def roi(self) -> Roi | None:
        return self._roi

    def set_verdict(self, verdict: str | None) -> None:
        if verdict != self._verdict:
            self._verdict = verdict
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    # ---- geometry ------------------------------------------------------------------------------------
    def _image_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def _to_image(self, pos: QPointF) -> QPointF:
        r = self._image_rect()
        scale = r.width() / self._image.width()
        x = min(max((pos.x() - r.x()) / scale, 0.0), float(self._image.width()))
        y = min(max((pos.y() - r.y()) / scale, 0.0), float(self._image.height()))
        return QPointF(x, y)

    def _to_widget(self, roi: Roi) -> QRectF:
        r = self._image_rect()
        scale = r.width() / self._image.width()
        return QRectF(r.x() + roi.x * scale, r.y() + roi.y * scale, roi.w * scale, roi.h * scale)

    # ---- mouse: draw or move the rectangle -----------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._image is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        p = self._to_image(event.position())
        self._drag_start = p
        current = self._effective_roi()
        self._moving = current is not None and self._roi is not None and self._to_widget(current).contains(
            event.position())
        self._drag_roi = current
        self._rubber = current if self._moving else None
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is None:
            return super().mouseMoveEvent(event)
        p = self._to_image(event.position())
        if self._moving and self._drag_roi is not None:
            r = self._drag_roi
            x = int(round(min(max(r.x + p.x() - self._drag_start.x(), 0), self._image.width() - r.w)))
            y = int(round(min(max(r.y + p.y() - self._drag_start.y(), 0), self._image.height() - r.h)))
            self._rubber = Roi(x, y, r.w, r.h)
        else:
            x0, y0 = min(p.x(), self._drag_start.x()), min(p.y(), self._drag_start.y())
            x1, y1 = max(p.x(), self._drag_start.x()), max(p.y(), self._drag_start.y())
            w, h = int(round(x1 - x0)), int(round(y1 - y0))
            self._rubber = Roi(int(round(x0)), int(round(y0)), w, h) if w >= 1 and h >= 1 else None
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_start is None:
            return super().mouseReleaseEvent(event)
        rubber, self._rubber, self._drag_start = self._rubber, None, None
        if rubber is not None and rubber.w >= MIN_ROI_PX and rubber.h >= MIN_ROI_PX and rubber != self._roi:
            self._roi = rubber
            self._overlay = None
            self.roi_changed.emit(rubber)
        self.update()
        event.accept()

    def _effective_roi(self) -> Roi | None:
        size = self.frame_size()
        if size is None:
            return None
        return (self._roi.clamped(*size) if self._roi else None) or Roi(0, 0, *size)

    # ---- painting ------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 18, 18))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self._image_rect()
        painter.drawImage(target, self._image)
        if self._overlay is not None and self._rubber is None:
            painter.drawImage(self._to_widget(self._overlay[2]), self._overlay[1])
        shown = self._rubber or self._effective_roi()
        box = self._to_widget(shown)
        if self._roi is not None or self._rubber is not None:
            outside = QPainterPath()
            outside.addRect(target)
            inside = QPainterPath()
            inside.addRect(box)
            painter.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 120))
        colour = VERDICT_COLOURS[None] if self._rubber is not None else VERDICT_COLOURS.get(self._verdict,
                                                                                            VERDICT_COLOURS[None])
        pen = QPen(colour, 3)
        if self._rubber is not None:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(box.adjusted(1, 1, -1, -1))
        painter.setPen(QColor(235, 235, 235))
        label = f"ROI {shown.w}x{shown.h} at {shown.x},{shown.y}" if self._roi or self._rubber else \
            "whole frame judged - drag to set the region"
        painter.drawText(QPoint(int(target.x()) + 8, int(target.bottom()) - 8), label)
