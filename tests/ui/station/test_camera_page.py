"""The camera page around real core objects: a demo video judged live, the ROI dragged and restored, keys,
sending to the inbox, the log view, CSV export, and a missing camera."""
from __future__ import annotations

import csv
import shutil

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from station_helpers import PART_ROI, FakeCamera, demo_video, store_with_active_model, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, load_station_settings
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.ui.station.camera_page import CameraPage
from fanqc_gui.ui.station.capture_rules_dialog import CaptureRulesDialog
from tools.screenshots.camera import render_camera_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]


@pytest.fixture
def env(tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws"), store


@pytest.fixture
def frames(tmp_path_factory):
    return video_frames(demo_video(tmp_path_factory)[0])


@pytest.fixture
def make_page(qtbot, env):
    pages = []

    def make(**kwargs):
        ws, store = env
        page = CameraPage(ws, store, **kwargs)
        qtbot.addWidget(page)
        page.resize(1280, 800)
        page.show()
        qtbot.waitExposed(page)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()


def drag(widget, start: QPoint, end: QPoint) -> None:
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 6):
        QTest.mouseMove(widget, start + (end - start) * (i / 5))
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_a_demo_video_is_judged_and_the_page_agrees_with_the_log(qtbot, make_page, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    page = make_page()
    page.set_roi(Roi(*PART_ROI))
    page.source_bar.set_source("file", str(path))
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    assert page.source_bar.start_button.text() == "Stop"
    qtbot.waitUntil(lambda: page.session is None, timeout=20_000)  # the recording ended
    # the last verdict stays in view, the end noted under it
    assert page.banner.word.text() == page.last_verdict.verdict
    assert page.banner.note_text() == "ENDED: end of the recording"
    log = InspectionLog.for_workspace(ws.root)
    counts = log.counts()
    assert counts["total"] == 48
    assert [page.counters.text_of(k) for k in ("inspected", "go", "ng")] == \
        [str(counts["total"]), str(counts["go"]), str(counts["ng"])]
    assert page.counters.text_of("yield") == f"{100 * counts['go'] / 48:.1f} %"
    assert page.last_verdict.frame_index == 47
    assert page.last_verdict.p_ng == pytest.approx(log.recent(1)[0].p_ng)
    page.log_view.refresh()
    assert page.log_view.model.rowCount() == 48
    assert page.source_bar.start_button.text() == "Start"
    log.close()


def test_dragging_the_roi_saves_it_for_this_station_and_a_new_page_restores_it(qtbot, make_page, frames):
    page = make_page(station_name="line-3", capture_factory=FakeCamera.factory(frames, fps=60.0))
    page.source_bar.set_source("camera", "0")
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: page.roi_view.frame_size() == (640, 480), timeout=10_000)
    view = page.roi_view
    # the 640x480 frame is scaled to fit the view: aim at frame pixels through the view's own mapping
    rect = view._image_rect()
    scale = rect.width() / 640

    def at(x, y):
        return QPoint(int(rect.x() + x * scale), int(rect.y() + y * scale))

    drag(view, at(220, 140), at(420, 340))
    roi = view.roi()
    assert roi is not None and abs(roi.x - 220) <= 3 and abs(roi.w - 200) <= 4
    assert load_station_settings("line-3").roi == roi
    qtbot.waitUntil(lambda: page.last_verdict is not None and page.last_verdict.roi == roi, timeout=5_000)
    drag(view, at(300, 240), at(340, 250))  # drag inside: move it 40 px right, 10 down
    moved = view.roi()
    assert (moved.w, moved.h) == (roi.w, roi.h) and abs(moved.x - roi.x - 40) <= 3 and abs(moved.y - roi.y - 10) <= 3
    page.shutdown()
    again = make_page(station_name="line-3")
    assert again.roi_view.roi() == moved and again.source_bar.kind() == "camera"
    other = make_page(station_name="line-4")
    assert other.roi_view.roi() is None


def test_space_triggers_and_i_sends_the_judged_crop_to_the_inbox(qtbot, make_page, env, frames):
    ws, store = env
    page = make_page(capture_factory=FakeCamera.factory(frames, fps=60.0))
    page.mode_box.setCurrentIndex(page.mode_box.findData("triggered"))
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: page.roi_view.frame_size() is not None, timeout=10_000)
    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=2_000)
    assert page.last_verdict is None and page.trigger_button.isEnabled()
    QTest.keyClick(page, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: page.last_verdict is not None, timeout=5_000)
    assert page.banner.word.text() == page.last_verdict.verdict
    QTest.keyClick(page, Qt.Key.Key_I)
    qtbot.waitUntil(lambda: "Sent to the inbox" in page.status.text(), timeout=5_000)
    sent = [p for p in ws.inbox_dir.iterdir() if p.name.startswith("station_")]
    assert len(sent) == 1 and sent[0].name.startswith(f"station_{page.last_verdict.verdict}_")
    QTest.keyClick(page, Qt.Key.Key_P)
    assert page.pause_button.isChecked() and page.banner.word.text() == "PAUSED"
    QTest.keyClick(page, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: "Snapshot saved" in page.status.text(), timeout=5_000)
    assert len(list((ws.captures_dir / "snapshots").iterdir())) == 1


def test_logged_captures_go_to_the_inbox_and_the_log_exports(qtbot, make_page, env, tmp_path_factory, tmp_path):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    page = make_page()
    page.set_roi(Roi(*PART_ROI))
    page.start(SourceSpec.parse(str(path)))
    qtbot.waitUntil(lambda: page.session is None, timeout=20_000)
    view = page.log_view
    view.filter_box.setCurrentIndex(2)  # only verdicts with a saved image
    assert view.model.rowCount() > 0 and all(r.image_path for r in view.model.rows)
    view.table.selectRow(0)
    QTest.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     view.table.visualRect(view.model.index(1, 1)).center())
    before = set(ws.inbox_dir.iterdir())
    qtbot.mouseClick(view.inbox_button, Qt.MouseButton.LeftButton)
    new = set(ws.inbox_dir.iterdir()) - before
    picked = {ws.root / r.image_path for r in view.model.rows[:2]}
    assert sorted(p.name for p in new) == sorted(p.name for p in picked)
    assert all(p.is_file() for p in picked)  # copies: the captures stay as evidence
    assert "2 images sent to the inbox" in page.status.text()
    qtbot.waitUntil(lambda: view.model.data(view.model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=5_000)  # thumbnail of the saved crop
    dest = tmp_path / "log.csv"
    assert view.export_csv(dest) == 48
    with open(dest, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 48


def test_a_missing_camera_is_shown_clearly_and_the_page_stays_usable(qtbot, make_page):
    page = make_page()
    page.source_bar.set_source("camera", "95")
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "no camera at index 95" in page.status.text(), timeout=5_000)
    assert page.banner.word.text() == "NO PICTURE" and "reconnecting" in page.status.text()
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)  # Stop
    assert page.session is None and page.banner.word.text() == "STOPPED"
    page.source_bar.set_source("camera", "zero")
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    assert page.session is None and "must be a number" in page.status.text()


def test_capture_rules_are_edited_and_kept_for_the_station(qtbot, make_page):
    page = make_page(station_name="line-5")
    dialog = CaptureRulesDialog(page.settings.capture, page)
    qtbot.addWidget(dialog)
    dialog.form.go_percent.setValue(10.0)
    dialog.form.per_minute.setValue(30)
    dialog.form.image_format.setCurrentIndex(dialog.form.image_format.findData("png"))
    page.set_capture_rules(dialog.rules())
    expected = CaptureRules(save_ng=True, go_fraction=0.1, max_per_minute=30, min_free_mb=500, image_format="png")
    assert load_station_settings("line-5").capture == expected
    assert make_page(station_name="line-5").settings.capture == expected


def test_the_screenshot_shows_a_live_verdict(qtbot, env, tmp_path):
    ws, store = env
    out = render_camera_screenshot(tmp_path / "camera.png", ws, store, size=(1200, 760), timeout_s=8,
                                   want_verdict=None, settle_s=0.3)
    assert out.is_file() and out.stat().st_size > 20_000
