"""Small helpers for driving the real window: key presses and real drag-and-drop events with file URLs."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
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
    # QDragEnterEvent/QDragMoveEvent take a QPoint, QDropEvent a QPointF (PySide6 6.11)
    pos = QPointF(20, 20)
    enter = QDragEnterEvent(pos.toPoint(), ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the pane refused the drag"
    move = QDragMoveEvent(pos.toPoint(), ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, move)
    event = QDropEvent(pos, ACTIONS, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event


def status_text(parts) -> str:
    return parts.window.statusBar().currentMessage()


def click_dialog_button(object_name: str, text: str) -> None:
    """Click a button of the modal dialog `object_name` as soon as it is open."""
    deadline = time.monotonic() + 10

    def attempt():
        box = QApplication.activeModalWidget()
        if box is not None and box.objectName() == object_name:
            for button in box.buttons():
                if button.text().replace("&", "") == text:
                    button.click()
                    return
            raise AssertionError(f"no button {text!r} in {[b.text() for b in box.buttons()]}")
        if time.monotonic() < deadline:
            QTimer.singleShot(20, attempt)

    QTimer.singleShot(0, attempt)
