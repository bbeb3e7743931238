"""Panes (counts, filter, sort, thumbnails, unreadable files, outside changes) and the preview."""
from __future__ import annotations

import os
import shutil

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from ui_helpers import press

from fanqc_gui.ui.dataset.thumbnail_list_model import SortOrder


def test_thumbnails_load_in_the_background(app_parts, qtbot):
    panes = app_parts.dataset.panes.values()
    qtbot.waitUntil(lambda: all(p.view.visible_thumbnails_loaded() for p in panes), timeout=10_000)
    go = app_parts.dataset.panes["go"]
    thumb = app_parts.thumbnails.lookup(go.model.entry(0).path, go.model.entry(0).mtime_ns)
    assert thumb.image is not None and max(thumb.image.width(), thumb.image.height()) == 96
    assert (thumb.width, thumb.height) == (96, 96)


def test_name_filter_and_live_count(app_parts, demo_workspace):
    go = app_parts.dataset.panes["go"]
    go.set_name_filter("go_001")
    assert go.count_text() == "10 of 24"
    assert all("go_001" in os.path.basename(p) for p in go.model.paths())
    go.set_name_filter("*_002?.jpg")
    assert go.count_text() == "4 of 24"
    go.set_name_filter("")
    assert go.count_text() == "24"


def test_sort_by_date_and_name(app_parts, demo_workspace, qtbot):
    ng = app_parts.dataset.panes["ng"]
    paths = sorted((demo_workspace / "NG").iterdir())
    for i, p in enumerate(paths):  # the first file by name is the newest
        os.utime(p, ns=(10**18 - i * 10**9, 10**18 - i * 10**9))
    app_parts.dataset._lister.list("ng", str(demo_workspace / "NG"))
    qtbot.waitUntil(lambda: ng.model.entry(0).mtime_ns == 10**18)
    ng.set_sort_order(SortOrder.OLDEST)
    assert ng.model.paths()[0] == str(paths[-1])
    ng.set_sort_order(SortOrder.NEWEST)
    assert ng.model.paths()[0] == str(paths[0])
    ng.set_sort_order(SortOrder.NAME_DESC)
    assert ng.model.paths()[0] == str(paths[-1])


def test_selection_survives_filtering(app_parts, demo_workspace):
    go = app_parts.dataset.panes["go"]
    target = str(demo_workspace / "GO" / "go_0012.jpg")
    go.select_paths([target])
    go.set_name_filter("go_001")
    assert go.selected_paths() == [target]


def test_unreadable_file_shows_a_badge_with_the_reason(app_parts, demo_workspace, qtbot):
    good = (demo_workspace / "inbox" / "inbox_0003.jpg").read_bytes()
    (demo_workspace / "inbox" / "aaa_truncated.jpg").write_bytes(good[: len(good) // 2])
    (demo_workspace / "inbox" / "aab_empty.jpg").write_bytes(b"")
    inbox = app_parts.dataset.panes["inbox"]
    qtbot.waitUntil(lambda: inbox.model.total == 10)
    model = inbox.model
    qtbot.waitUntil(lambda: model.problem_at(0) is not None and model.problem_at(1) is not None)
    assert model.problem_at(0).startswith("truncated JPEG")
    assert model.problem_at(1) == "empty file (0 bytes)"
    assert "truncated JPEG" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: model.thumbnail_at(2) is not None)
    assert model.problem_at(2) is None
    inbox.select_row(0)
    preview = app_parts.dataset.preview
    qtbot.waitUntil(lambda: preview.field("Resolution") == "—")
    assert preview.canvas._message.startswith("⚠ Cannot show this image")


def test_file_added_by_another_program_appears(app_parts, demo_workspace, qtbot):
    inbox = app_parts.dataset.panes["inbox"]
    tmp = demo_workspace / ".camera-tmp"
    shutil.copy(demo_workspace / "GO" / "go_0001.jpg", tmp)
    os.replace(tmp, demo_workspace / "inbox" / "cam_0001.jpg")  # how a camera station publishes a frame
    qtbot.waitUntil(lambda: inbox.count_text() == "9", timeout=3000)
    (demo_workspace / "GO" / "go_0002.jpg").unlink()
    qtbot.waitUntil(lambda: app_parts.dataset.panes["go"].count_text() == "23", timeout=3000)


def test_preview_details_zoom_and_arrow_keys(app_parts, demo_workspace, qtbot):
    page = app_parts.dataset
    go = page.panes["go"]
    go.select_paths([str(demo_workspace / "GO" / "go_0004.jpg")])
    go.focus_grid()
    preview = page.preview
    qtbot.waitUntil(lambda: preview.field("Resolution") == "96 × 96 px")
    assert preview.field("Name") == "go_0004.jpg"
    assert preview.field("Class") == "GO"
    assert preview.field("Size").endswith("KB")

    canvas = preview.canvas
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    wheel = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, wheel)
    assert canvas.zoom > 1.5
    fitted = canvas.image_rect()
    assert fitted.width() > canvas.width() or fitted.height() > canvas.height()

    canvas.setFocus()
    press(canvas, Qt.Key.Key_Right)
    assert go.current_path().endswith("go_0005.jpg")
    qtbot.waitUntil(lambda: preview.field("Name") == "go_0005.jpg")
    press(canvas, Qt.Key.Key_Left)
    press(canvas, Qt.Key.Key_Left)
    assert go.current_path().endswith("go_0003.jpg")
    # arrow keys in the grid step too (Qt's own grid navigation)
    go.focus_grid()
    press(go.view, Qt.Key.Key_Right)
    assert go.current_path().endswith("go_0004.jpg")


def _view_option(view, index):
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.initFrom(view.viewport())
    option.rect = view.visualRect(index)
    option.font = view.font()
    return option


def test_a_long_name_shows_its_words_and_the_tooltip_the_whole_name(app_parts, demo_workspace, qtbot):
    """Names are cut at their end, never in the middle where the words a user filters by often are."""
    name = "part_0001_scratch_near_the_hub_of_blade_3_left_side.jpg"
    shutil.copy(demo_workspace / "inbox" / "inbox_0000.jpg", demo_workspace / "inbox" / name)
    inbox = app_parts.dataset.panes["inbox"]
    qtbot.waitUntil(lambda: inbox.model.total == 9, timeout=5_000)
    index = inbox.model.index(inbox.model.row_of(str(demo_workspace / "inbox" / name)))
    lines = inbox.view.itemDelegate().shown_name(_view_option(inbox.view, index), index)
    assert len(lines) == 2 and lines[0].startswith("part_0001_")
    assert "scratch" in "".join(lines) and lines[-1].endswith("…")
    assert name in index.data(Qt.ItemDataRole.ToolTipRole)
    inbox.set_name_filter("scratch")  # the word shown is the word that finds it
    assert inbox.count_text() == "1 of 9"


def test_a_selected_name_is_readable_in_the_dark_theme(app_parts, qtbot):
    from fanqc_gui.ui.theme import apply_theme

    inbox = app_parts.dataset.panes["inbox"]
    inbox.select_row(0)
    apply_theme(QApplication.instance(), "dark")
    try:
        qtbot.wait(50)
        index = inbox.model.index(0)
        option = _view_option(inbox.view, index)
        rect = inbox.view.itemDelegate().name_rect(option)
        picture = inbox.view.viewport().grab().toImage()
        background = picture.pixelColor(rect.left() + 4, rect.center().y())  # left of the centred name
        text = inbox.view.palette().text().color()
        assert _contrast(text, background) >= 4.5, (text.name(), background.name())
    finally:
        apply_theme(QApplication.instance(), "light")


def _contrast(a, b) -> float:
    def lum(c) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
