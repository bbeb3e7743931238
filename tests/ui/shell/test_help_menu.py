"""Help > Quick start and Help > Keyboard shortcuts, opened from the real window's menu."""
from __future__ import annotations

import re

from PySide6.QtGui import QAction, QKeySequence, QShortcut

from fanqc_gui.ui.shell.help_dialogs import QUICK_START, QuickStartDialog, ShortcutsDialog


def _help_action(window, text: str) -> QAction:
    return next(a for a in window.help_menu.actions() if a.text() == text)


def _native(seq: QKeySequence) -> str:
    return seq.toString(QKeySequence.SequenceFormat.NativeText)


def test_help_has_quick_start_shortcuts_and_about(app_parts):
    w = app_parts.window
    assert [a.text() for a in w.menuBar().actions()] == ["&File", "&Edit", "&Help"]
    assert [a.text() for a in w.help_menu.actions() if not a.isSeparator()] == [
        "&Quick start", "&Keyboard shortcuts", "&About FanQC"]


def test_quick_start_explains_the_four_pages_with_their_keys(app_parts, qtbot):
    w = app_parts.window
    _help_action(w, "&Quick start").trigger()
    dialog = w.help_dialog
    assert isinstance(dialog, QuickStartDialog) and dialog.isVisible()
    text = dialog.text()
    for page in ("Dataset", "Training", "Insight", "Camera"):
        assert f"{page}:" in text
    for key in ("G", "N", "I", "Del", "Ctrl+Z", "Ctrl+Shift+Z", "Space", "P", "S"):
        assert re.search(rf"(?<![\w+]){re.escape(key)}(?![\w+])", text), key
    # every key the quick start names is a real shortcut of the window (it cannot promise a dead key)
    listed = ShortcutsDialog(w).keys_listed()
    named = {k for _, _, body in QUICK_START for k in re.findall(r"<b>([^<]+)</b>", body)
             if re.fullmatch(r"Ctrl\+.+|[A-Z0-9+\-]|Del|Space", k)}
    assert named and named <= listed, named - listed


def test_keyboard_shortcuts_lists_every_shortcut_of_the_window(app_parts, qtbot):
    w = app_parts.window
    _help_action(w, "&Keyboard shortcuts").trigger()
    dialog = w.help_dialog
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    table = dialog.table
    cells = [[table.item(r, c).text() for c in range(3)] for r in range(table.rowCount())]
    keys = {k for row in cells for k in row[0].split(" or ")}  # what the table shows
    for action in w.findChildren(QAction):
        for seq in action.shortcuts():
            assert _native(seq) in keys, (action.text(), _native(seq))
    for shortcut in w.findChildren(QShortcut):
        assert _native(shortcut.key()) in keys
    rows = {(k, where): what for ks, what, where in cells for k in ks.split(" or ")}
    assert "Undo" in rows[("Ctrl+Z", "Edit menu")]
    assert rows[("G", "Dataset")].startswith("Move the selected images to GO")
    assert rows[("G", "Insight")] == "Move to GO"
    assert "inbox" in rows[("I", "Camera")] and "Pause" in rows[("P", "Camera")]
    assert any("zoom" in what for (k, where), what in rows.items() if where == "Dataset")  # documented keys


def test_the_shortcut_list_follows_the_actions_it_is_read_from(app_parts):
    """A shortcut added later (or a renamed action) shows the next time the list opens: nothing to keep in step."""
    w = app_parts.window
    extra = QAction("Re-run the predictions", app_parts.insight, shortcut=QKeySequence("F5"))
    app_parts.insight.addAction(extra)
    app_parts.dataset.undo_action.setText("Undo move of 3 images to GO")
    rows = {(k, r.where): r.action for r in w.open_shortcuts().rows for k in r.keys}
    assert rows[("F5", "Insight")] == "Re-run the predictions"
    assert rows[("Ctrl+Z", "Edit menu")] == "Undo move of 3 images to GO"
