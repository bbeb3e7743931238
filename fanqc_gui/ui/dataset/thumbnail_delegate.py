"""Paints one thumbnail cell: the image (or a placeholder while it loads), a warning badge, the name.

The name takes two lines, cut at the end (never in the middle, where the words a user filters by often
are); the tooltip has the full name. Colours come from the palette at paint time, so a theme change
(light / dark) shows at the next repaint.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

PAD = 5
NAME_LINES = 2
_BREAK_AFTER = "_-. "  # a name wraps after one of these when it can


def name_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
    return font


def name_lines(name: str, metrics: QFontMetrics, width: int, lines: int = NAME_LINES) -> list[str]:
    """name in at most `lines` lines of `width` pixels: wrapped (after _ - . or a space when one is near
    the end of a line), the last line elided at its end."""
    out: list[str] = []
    rest = name
    while rest and len(out) < lines - 1 and metrics.horizontalAdvance(rest) > width:
        fit = 1
        while fit < len(rest) and metrics.horizontalAdvance(rest[:fit + 1]) <= width:
            fit += 1
        cut = max((rest.rfind(c, 0, fit) for c in _BREAK_AFTER), default=-1) + 1
        if cut < fit * 0.6:  # no separator near the end of the line: break inside the word
            cut = fit
        out.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        out.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
    return out


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumb_size: int, parent=None):
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.name_height = NAME_LINES * QFontMetrics(name_font(QApplication.font())).lineSpacing() + 2

    def cell_size(self) -> QSize:
        return QSize(self.thumb_size + 2 * PAD, self.thumb_size + 2 * PAD + self.name_height)

    def sizeHint(self, option, index) -> QSize:
        return self.cell_size()

    def name_rect(self, option: QStyleOptionViewItem) -> QRect:
        top = option.rect.y() + PAD + self.thumb_size + 3
        return QRect(option.rect.x() + 3, top, option.rect.width() - 6, self.name_height)

    def shown_name(self, option: QStyleOptionViewItem, index) -> list[str]:
        """The lines of the name as painted in this cell."""
        return name_lines(index.data() or "", QFontMetrics(name_font(option.font)), self.name_rect(option).width())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = QRectF(option.rect).adjusted(2, 2, -2, -2)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:  # a tint of the highlight over the pane: the name keeps the text colour in both themes
            fill = QColor(pal.highlight().color())
            fill.setAlpha(70)
            painter.setPen(QPen(pal.highlight().color(), 2))
            painter.setBrush(fill)
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
            placeholder = QColor(pal.text().color())
            placeholder.setAlpha(24)
            painter.setBrush(placeholder)
            painter.drawRoundedRect(QRectF(box).adjusted(4, 4, -4, -4), 4, 4)
            if thumb is not None and thumb.reason:
                _warning_badge(painter, QRectF(box).adjusted(s * 0.3, s * 0.28, -s * 0.3, -s * 0.32))
        if thumb is not None and thumb.reason:
            _warning_badge(painter, QRectF(box.right() - 20, box.top(), 22, 20))

        painter.setFont(name_font(option.font))
        painter.setPen(pal.text().color())
        painter.drawText(self.name_rect(option), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "\n".join(self.shown_name(option, index)))
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
