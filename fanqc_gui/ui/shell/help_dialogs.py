"""Help > Quick start (the four pages in a few lines each, with their keys) and Help > Keyboard shortcuts.

The shortcut list is read from the window itself when it opens: every QAction and QShortcut with a key, named
by its text (or, for a QShortcut, its whatsThis) and placed on its page, plus the keys that widgets handle
themselves (grid and preview navigation), declared next to the code that handles them. So it cannot go stale.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.ui.dataset.image_preview import PREVIEW_KEYS
from fanqc_gui.ui.dataset.thumbnail_pane import GRID_KEYS

# The keys in these lines are the ones the pages define (checked by tests against the real actions).
QUICK_START = (
    ("Dataset", "Sort your images into GO and NG",
     "The Inbox, GO and NG panes are the workspace's folders: labelling an image moves its file. Select "
     "thumbnails (click, arrow keys, Shift or Ctrl+click) and press <b>G</b> (GO), <b>N</b> (NG), <b>I</b> "
     "(back to the inbox) or <b>Del</b> (trash), or drag them between panes. Drop files from the file manager "
     "to copy them in. <b>Ctrl+Z</b> undoes a move, <b>Ctrl+Shift+Z</b> redoes it. The preview steps with the "
     "arrow keys and zooms with <b>+</b> / <b>-</b> (<b>0</b> fits the image)."),
    ("Training", "Teach a model what GO and NG look like",
     "Check the image counts, keep the recommended options and press <b>Start training</b>. The curves show the "
     "run; <b>Stop…</b> asks what to keep. A new model is never used by itself: compare it with the active one "
     "and press <b>Activate</b> in the model list."),
    ("Insight", "See where the model is wrong, and why",
     "Pick a model and press <b>Predict workspace</b>: every image gets its P(NG). The table, confusion matrix "
     "and ROC show the mistakes, Grad-CAM shows what the model looked at. Select an image that is filed wrong "
     "and press <b>G</b> or <b>N</b> to move it. Set the threshold and <b>Save threshold to model</b>: the "
     "camera station uses it at once."),
    ("Camera", "Judge parts live",
     "Choose a source (camera number, video file, stream address or image folder) and press <b>Start</b>; "
     "drag on the picture to set the region that is judged. The banner shows GO or NG, the counters and the "
     "log keep every verdict. <b>Space</b> judges the next frame (Software trigger mode, with the part id "
     "typed), <b>P</b> pauses, <b>S</b> saves a snapshot, <b>I</b> sends the judged crop to the inbox for "
     "labelling. On a line the PLC, an MQTT message or the part arriving triggers instead (Settings &gt; "
     "Line I/O)."),
)


@dataclass(frozen=True)
class ShortcutRow:
    keys: tuple[str, ...]  # as shown to people: ("Ctrl+Shift+Z", "Ctrl+Y")
    action: str            # what it does
    where: str             # the page it works on, or the menu it is in

    @property
    def keys_text(self) -> str:
        return " or ".join(self.keys)


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".").strip()


def _keys(sequences) -> tuple[str, ...]:
    return tuple(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty())


def _page_of(obj, pages: list[tuple[str, QWidget]]) -> str | None:
    """The title of the page obj lives on (its QObject parents), or None."""
    node = obj
    while node is not None:
        for title, page in pages:
            if node is page:
                return title
        node = node.parent()
    return None


def _menu_of(action: QAction) -> str | None:
    for owner in action.associatedObjects():
        if isinstance(owner, QMenu) and owner.title():
            return f"{_clean(owner.title())} menu"
    return None


def window_shortcuts(window: QMainWindow) -> list[ShortcutRow]:
    """Every shortcut of the window: its actions and QShortcuts (read now), then the documented keys."""
    pages = window.pages() if hasattr(window, "pages") else []
    menus = [f"{_clean(a.text())} menu" for a in window.menuBar().actions()]
    order = menus + [title for title, _ in pages] + ["Window"]  # the menu bar, then the tabs, left to right
    rows: list[ShortcutRow] = []
    for action in window.findChildren(QAction):
        keys = _keys(action.shortcuts())
        if not keys or action.isSeparator():
            continue
        where = _menu_of(action) or _page_of(action, pages) or "Window"
        rows.append(ShortcutRow(keys, action.statusTip() or _clean(action.text()), where))
    for shortcut in window.findChildren(QShortcut):
        keys = _keys(shortcut.keys())
        if keys:
            what = shortcut.whatsThis() or shortcut.objectName() or "—"
            rows.append(ShortcutRow(keys, what, _page_of(shortcut, pages) or "Window"))
    rows += [ShortcutRow(k, what, "Dataset") for k, what in GRID_KEYS + PREVIEW_KEYS]
    unique = list(dict.fromkeys(rows))
    return sorted(unique, key=lambda row: order.index(row.where) if row.where in order else len(order))


class QuickStartDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("FanQC quick start")
        self.resize(640, 560)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(self.html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)

    @staticmethod
    def html() -> str:
        parts = ["<p>FanQC works on a <b>workspace</b>: a folder with <i>inbox</i>, <i>GO</i> and <i>NG</i> "
                 "sub-folders (File &gt; Open workspace). The four pages follow the work, left to right:</p>"]
        for page, title, text in QUICK_START:
            parts.append(f"<h3>{html.escape(page)}: {html.escape(title)}</h3><p>{text}</p>")
        parts.append("<p>Every key: Help &gt; Keyboard shortcuts.</p>")
        return "".join(parts)

    def text(self) -> str:
        return self.browser.toPlainText()


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("FanQC keyboard shortcuts")
        self.resize(760, 600)
        self.rows = window_shortcuts(window)
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "What it does", "Where"])
        for r, row in enumerate(self.rows):
            for c, text in enumerate((row.keys_text, row.action, row.where)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(0, 220)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def keys_listed(self) -> set[str]:
        return {key for row in self.rows for key in row.keys}
