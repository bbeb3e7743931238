"""Every number field of the real window takes a value typed key by key: no box reformats a half-typed
number under the user's fingers (as Insight's threshold box did: "0" became "0.0000" and refused the rest)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QDoubleSpinBox, QLineEdit

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.models.demo_model import install_demo_model


def _wanted(box: QAbstractSpinBox) -> tuple[str, float]:
    """A value inside the box's range, other than its current one, typed with several keys."""
    low, high = box.minimum(), box.maximum()
    if isinstance(box, QDoubleSpinBox):
        step = 10.0 ** -box.decimals()
        value = round(low + (high - low) * 0.45, box.decimals())
        if abs(value - box.value()) < step / 2:
            value = round(value + 7 * step, box.decimals())
        return f"{value:.{box.decimals()}f}".rstrip("0").rstrip(".") or "0", value
    value = low + max(1, (min(high, low + 1000) - low) * 45 // 100)
    if value == box.value():
        value += 1
    return str(value), value


def _page_of(window, box):
    for title, page in window.pages():
        if page.isAncestorOf(box):
            return title
    raise AssertionError(f"{box} is on no page")


def type_number(qtbot, box: QAbstractSpinBox) -> str | None:
    """Click into the box, select its number, type a new one key by key and Tab to the next field (Enter
    would close a dialog). None when the number arrived, else what went wrong."""
    text, value = _wanted(box)
    editor = box.findChild(QLineEdit)
    QTest.mouseClick(editor, Qt.MouseButton.LeftButton)
    if not editor.hasFocus():
        return f"{_describe(box)} cannot be clicked into (focus policy {box.focusPolicy()})"
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, text)
    if box.cleanText() != text:
        return f"{_describe(box)} shows {box.cleanText()!r} while {text!r} is typed"
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    if box.value() != pytest.approx(value):
        return f"{_describe(box)}: typed {text}, holds {box.value()}"
    return None


def _describe(box) -> str:
    return f"{type(box).__name__} {box.toolTip()[:40]!r} ({box.suffix().strip() or 'no unit'})"


@pytest.fixture
def window_parts(qtbot, monkeypatch, demo_workspace):
    """The real window with the demo workspace and the demo model (TensorFlow hidden: nothing loads Keras)."""
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings

    monkeypatch.setattr(tf_runtime, "tensorflow_available", lambda: False)
    parts = build_app(AppSettings())
    install_demo_model(parts.store)
    parts.insight.refresh_models()
    qtbot.addWidget(parts.window)
    parts.window.resize(1280, 720)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    assert parts.workspaces.open_path(demo_workspace)
    parts.window.set_current_page("Insight")
    qtbot.waitUntil(lambda: parts.insight.predictions is not None and not parts.insight.is_busy(), timeout=30_000)
    yield parts
    parts.window.close()


def test_a_number_typed_into_any_box_of_the_window_arrives(qtbot, window_parts):
    window = window_parts.window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    boxes = window.findChildren(QAbstractSpinBox)
    assert len(boxes) >= 12  # training options, insight's threshold, target and confidence, the camera's
    form = window_parts.training.options_form
    problems, typed = [], set()
    # The Training page shows the boxes of the chosen mode and preset: each is typed into where a user meets it.
    for mode, choice in (("classify", "reference"), ("classify", "pretrained"), ("anomaly", "patchcore")):
        form.set_mode(mode)
        combo = form.method if mode == "anomaly" else form.preset
        combo.setCurrentIndex(combo.findData(choice))
        for box in boxes:
            window.set_current_page(_page_of(window, box))
            if id(box) in typed or (form.isAncestorOf(box) and not box.isVisibleTo(window)):
                continue  # another mode or preset shows it
            box.setEnabled(True)  # some wait for a mode (e.g. the camera's interval): typing is what is tested
            box.show()
            qtbot.waitUntil(box.isVisible)
            problems.append(type_number(qtbot, box))
            typed.add(id(box))
    assert [p for p in problems if p] == []
    assert len(typed) == len(boxes), [_describe(b) for b in boxes if id(b) not in typed]


def test_the_settings_dialogs_number_fields_take_typed_values(qtbot, window_parts):
    dialog = window_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    boxes = dialog.findChildren(QAbstractSpinBox)
    assert len(boxes) >= 3
    problems, typed = [], 0
    for box in boxes:
        _show_its_tab(box)  # the dialog has tabs: a user opens the box's tab before typing into it
        if not (box.isEnabled() and box.isVisible()):
            continue  # e.g. Line I/O ports while that output is off: nobody can type there yet
        problems.append(type_number(qtbot, box))
        typed += 1
    assert typed >= 3 and [p for p in problems if p] == []
    dialog.reject()


def _show_its_tab(widget) -> None:
    from PySide6.QtWidgets import QTabWidget

    child, parent = widget, widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QTabWidget):
            for i in range(parent.count()):
                if parent.widget(i).isAncestorOf(widget) or parent.widget(i) is child:
                    parent.setCurrentIndex(i)
        child, parent = parent, parent.parentWidget()
