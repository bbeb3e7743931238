"""Paints one thumbnail cell: the image (or a placeholder while it loads), a warning badge, the name."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem


PAD = 5
NAME_HEIGHT = 18


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumb_size: int, parent=None):
        super().__init__(parent)
        self.thumb_size = thumb_size

    def cell_size(self) -> QSize:
        return QSize(self.thumb_size + 2 * PAD, self.thumb_size + 2 * PAD + NAME_HEIGHT)

    def sizeHint(self, option, index) -> QSize:
        return self.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = QRectF(option.rect).adjusted(2, 2, -2, -2)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(QPen(pal.highlight().color(), 2))
            painter.setBrush(pal.highlight().color().lighter(170))
            painter.drawRoundedRect(cell, 6, 6)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.midlight())
            painter.drawRoundedRect(cell, 6, 6)

        s = self.thumb_size
        box = QRect(option.rect.center().x() - s // 2, option.rect.y() + PAD, s, s)
        thumb = index.model().thumbnail_at(index.row())
        if thumb is not None and thumb.image is not None:
            img = thumb.image
            target = QRect(0, 0, img.width(), img.height())
            target.moveCenter(box.center())
            painter.drawImage(target, img)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 18))
            painter.drawRoundedRect(QRectF(box).adjusted(4, 4, -4, -4), 4, 4)
            if thumb is not None and thumb.reason:
                _warning_badge(painter, QRectF(box).adjusted(s * 0.3, s * 0.28, -s * 0.3, -s * 0.32))
        if thumb is not None and thumb.reason:
            _warning_badge(painter, QRectF(box.right() - 20, box.top(), 22, 20))

        name_rect = QRect(option.rect.x() + 3, box.bottom() + 3, option.rect.width() - 6, NAME_HEIGHT)
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(font)
        painter.setPen(pal.text().color())
        name = QFontMetrics(font).elidedText(index.data(), Qt.TextElideMode.ElideMiddle, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()


def _warning_badge(painter: QPainter, r: QRectF) -> None:
    """A yellow warning triangle with an exclamation mark."""
    tri = QPolygonF([QPointF(r.center().x(), r.top()), QPointF(r.right(), r.bottom()),
                     QPointF(r.left(), r.bottom())])
    path = QPainterPath()
    path.addPolygon(tri)
    path.closeSubpath()
    painter.setPen(QPen(QColor("#8a5a00"), 1.2))
    painter.setBrush(QColor("#ffc53d"))
    painter.drawPath(path)
    painter.setPen(QPen(QColor("#3d2800"), max(1.5, r.width() / 10), Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap))
    cx = r.center().x()
    painter.drawLine(QPointF(cx, r.top() + r.height() * 0.35), QPointF(cx, r.top() + r.height() * 0.66))
    painter.drawPoint(QPointF(cx, r.top() + r.height() * 0.82))
