"""Small helpers for driving the real window: key presses and real drag-and-drop events with file URLs."""
from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ACTIONS = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.is_file()) if Path(folder).is_dir() else []


def digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def press(widget, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(widget, key, modifier)


def url_mime(paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop(widget, mime: QMimeData) -> QDropEvent:
    """Deliver drag-enter, drag-move and drop to widget (a pane's viewport) as the platform would."""
    pos = QPointF(20, 20)
    enter = QDragEnterEvent(pos, ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the pane refused the drag"
    move = QDragMoveEvent(pos, ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, move)
    event = QDropEvent(pos, ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event


def status_text(parts) -> str:
    return parts.window.statusBar().currentMessage()
