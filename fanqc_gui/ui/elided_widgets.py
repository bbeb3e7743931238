"""Labels that never widen the window: cut with "…" (the full text in the tooltip).

ElidedActionButton: a tool button for an action whose text can grow long ("Undo move of 12 images to NG"),
cut to a fixed width. ElidedLabel: a one-line hint that shrinks with the window instead of holding it wide.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QAction, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QWidget


class ElidedActionButton(QToolButton):
    def __init__(self, action: QAction, max_text_px: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.max_text_px = max_text_px
        self.setDefaultAction(action)
        self._elide()

    def full_text(self) -> str:
        action = self.defaultAction()
        return action.iconText() if action is not None else ""

    def actionEvent(self, event) -> None:
        super().actionEvent(event)  # QToolButton copies the action's text, tooltip and state here
        if event.type() == QEvent.Type.ActionChanged and event.action() is self.defaultAction():
            self._elide()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._elide()

    def _elide(self) -> None:
        full = self.full_text()
        text = self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, self.max_text_px)
        if text != self.text():
            self.setText(text)
        action = self.defaultAction()
        tip = action.toolTip() if action is not None else ""
        if text != full and full not in tip:
            self.setToolTip(f"{full}\n{tip}" if tip and tip != full else full)


class ElidedLabel(QLabel):
    """One line of plain text, cut at its end to the room it gets (the full text in the tooltip)."""

    def __init__(self, text: str = "", parent: QWidget | None = None, **kwargs):
        super().__init__(text, parent, **kwargs)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("…") * 3, super().minimumSizeHint().height())

    def shown_text(self) -> str:
        room = self.contentsRect().width()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, room)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), self.shown_text())
