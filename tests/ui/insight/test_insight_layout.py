"""The insight page at the small screens it must fit (1280x720, 1366x768): no clipped button, label,
drop-down or tab title, and the charts keep a usable size; in the light and the dark theme.

The page is built by the real window (all pages, the demo workspace and model) and then measured at the
size a 1280x720 window leaves it: the window's menu, page tabs and status bar are measured, not guessed.
Other pages' widths do not enter: each page has its own test."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QTabWidget

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.models.demo_model import install_demo_model


def clipped(page) -> list[str]:
    """Visible widgets of the page drawn narrower than their text needs."""
    out = []
    for w in page.findChildren(QAbstractButton):
        text = w.text().replace("&", "")
        needed = max(w.fontMetrics().horizontalAdvance(line) for line in text.split("\n")) + 8 if text else 0
        if w.isVisible() and w.width() < needed:
            out.append(f"button {text!r}: {w.width()} < {needed}")
    for w in page.findChildren(QComboBox):
        if w.isVisible() and w.width() < w.minimumSizeHint().width():
            out.append(f"drop-down {w.currentText()!r}: {w.width()} < {w.minimumSizeHint().width()}")
        sizing = w.sizeAdjustPolicy() == QComboBox.SizeAdjustPolicy.AdjustToContents
        if w.isVisible() and sizing and w.width() < w.sizeHint().width():
            out.append(f"drop-down {w.currentText()!r}: {w.width()} < {w.sizeHint().width()}")
    for w in page.findChildren(QLabel):
        if w.isVisible() and w.text() and not w.wordWrap() and w.width() < w.minimumSizeHint().width():
            out.append(f"label {w.text()[:40]!r}: {w.width()} < {w.minimumSizeHint().width()}")
    for tabs in page.findChildren(QTabWidget):
        bar = tabs.tabBar()
        for i in range(bar.count()):
            if bar.isVisible() and bar.tabRect(i).right() > bar.width():
                out.append(f"tab {bar.tabText(i)!r} is cut off")
    return out


@pytest.fixture
def window_parts(qtbot, monkeypatch, demo_workspace):
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings

    monkeypatch.setattr(tf_runtime, "tensorflow_available", lambda: False)
    parts = build_app(AppSettings())
    install_demo_model(parts.store)
    parts.insight.refresh_models()
    qtbot.addWidget(parts.window)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    assert parts.workspaces.open_path(demo_workspace)
    parts.window.set_current_page("Insight")
    page = parts.insight
    qtbot.waitUntil(lambda: page.predictions is not None and not page.is_busy(), timeout=30_000)
    # what a user has on screen after a few clicks: a moved image (Undo offered), a matrix cell chosen
    page.table.sort_by(3)
    page.table.select_proxy_row(0)
    page.move_selected("NG")
    QTest.mouseClick(page.threshold.matrix.buttons[("NG", "NG")], Qt.MouseButton.LeftButton)
    window = parts.window
    chrome = (window.width() - page.width(), window.height() - page.height())
    page.setParent(None)  # measured on its own (closed and shut down by the window's closing)
    qtbot.addWidget(page)
    page.show()
    yield page, chrome
    parts.window.close()


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_the_page_fits_small_screens(qtbot, window_parts, size):
    page, (dx, dy) = window_parts
    assert 0 <= dx < 40 and 40 < dy < 140  # sane chrome: frame, page tabs, menu and status bar
    page.resize(size[0] - dx, size[1] - dy)
    qtbot.waitUntil(lambda: page.size().toTuple() == (size[0] - dx, size[1] - dy))
    qtbot.wait(50)
    assert page.minimumSizeHint().width() <= page.width() and page.minimumSizeHint().height() <= page.height()
    assert clipped(page) == []
    assert page.threshold.plot.height() >= 150 and page.gradcam.image.height() >= 150
    assert page.table.view.viewport().height() >= 4 * page.table.view.verticalHeader().defaultSectionSize()
    assert page.fixer.undo_button.isEnabled() and "move 1 image to NG" in page.fixer.undo_button.toolTip()


def test_nothing_is_clipped_in_the_dark_theme_either(qtbot, window_parts, tmp_path):
    from fanqc_gui.ui import theme

    page, (dx, dy) = window_parts
    page.resize(1280 - dx, 720 - dy)
    app = QApplication.instance()
    try:
        theme.apply_theme(app, "dark")
        qtbot.wait(50)
        assert clipped(page) == []
        assert page.grab().save(str(tmp_path / "insight_dark.png"))  # to look at when it fails
    finally:
        theme.apply_theme(app, "light")
