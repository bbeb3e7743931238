"""The camera page as an operator meets it: an image folder shown one image at a time with its verdicts, the
end of a source noted under the last verdict, a workspace switch that leaves nothing of the old workspace,
the model catalogue, the theme's colours, and the page at a laptop's screen size."""
from __future__ import annotations

import shutil
import time

import cv2
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox
from station_helpers import PART_ROI, FakeCamera, demo_video, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.demo_model import install_demo_model
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.station_settings import CaptureRules, Roi
from fanqc_gui.ui.station.camera_page import CameraPage
from fanqc_gui.ui.theme import apply_theme
from fanqc_gui.workers.model_catalogue import ModelCatalogue

pytestmark = pytest.mark.slow


@pytest.fixture
def env(demo_workspace_template, tmp_path):
    """Two workspaces and a store with the shipped demo model active (no training needed)."""
    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    for name in ("ws", "ws2"):
        shutil.copytree(demo_workspace_template, tmp_path / name)
    return open_workspace(tmp_path / "ws"), open_workspace(tmp_path / "ws2"), store


@pytest.fixture
def make_page(qtbot, env):
    pages = []

    def make(models=None, size=(1280, 800), **kwargs):
        ws, _, store = env
        page = CameraPage(ws, models or store, **kwargs)
        qtbot.addWidget(page)
        page.resize(*size)
        page.show()
        qtbot.waitExposed(page)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()
    apply_theme(QApplication.instance(), "light")


@pytest.fixture
def folder(tmp_path, tmp_path_factory):
    """Four whole frames of the demo video as image files (the part sits in PART_ROI)."""
    path, _ = demo_video(tmp_path_factory)
    shots = tmp_path / "shots"
    shots.mkdir()
    for i, frame in enumerate(video_frames(path)[:16:4]):
        cv2.imwrite(str(shots / f"part_{i:03d}.png"), frame)
    return shots


def test_an_image_folder_is_shown_one_image_at_a_time_and_the_last_verdict_stays(qtbot, make_page, folder):
    page = make_page()
    page.set_roi(Roi(*PART_ROI))
    page.source_bar.set_source("folder", str(folder))
    assert page.source_bar.interval_box.isVisible() and page.source_bar.folder_interval_s() == 1.0  # the default
    page.source_bar.interval_box.setValue(0.4)
    t0 = time.monotonic()
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    # a person sees verdicts while the folder plays, one image after the other
    seen = []
    while page.session is not None and time.monotonic() - t0 < 15:
        qtbot.wait(20)
        if page.banner.word.text() in ("GO", "NG") and page.last_verdict is not None:
            index = page.last_verdict.frame_index
            if not seen or seen[-1] != index:
                seen.append(index)
    elapsed = time.monotonic() - t0
    assert seen == [0, 1, 2, 3]  # each verdict was on screen before the next image came
    assert elapsed >= 3 * 0.4
    assert page.counters.text_of("inspected") == "4"
    # ended: the last verdict is still there, the end noted under it (no bare ENDED)
    assert page.banner.word.text() == page.last_verdict.verdict
    assert page.banner.note_text() == "ENDED: end of the folder"
    assert "ended" in page.status.text()


def test_switching_workspace_starts_the_page_afresh_on_the_new_one(qtbot, make_page, env, folder):
    ws, ws2, _ = env
    page = make_page()
    page.set_roi(Roi(*PART_ROI))
    page.set_capture_rules(CaptureRules(go_fraction=1.0, max_per_minute=100_000, min_free_mb=0))
    page.start(_folder_spec(folder), folder_interval_s=0)
    qtbot.waitUntil(lambda: page.session is None, timeout=15_000)
    page.log_view.filter_box.setCurrentIndex(1)  # NG only: a filter is per workspace too
    page.log_view.refresh()
    assert page.counters.text_of("inspected") == "4" and page.roi_view.frame_size() is not None

    page.set_workspace(ws2)
    assert [page.counters.text_of(k) for k in ("inspected", "go", "ng", "yield")] == ["0", "0", "0", "-"]
    assert page.log_view.model.rowCount() == 0 and page.log_view.filter_box.currentIndex() == 0
    assert page.banner.word.text() == "READY" and page.banner.note_text() == ""
    assert page.roi_view.frame_size() is None and page.last_verdict is None and page.status.text() == ""

    # the next run logs and saves captures in the new workspace, not the old one
    page.start(_folder_spec(folder), folder_interval_s=0)
    qtbot.waitUntil(lambda: page.session is None, timeout=15_000)
    assert page.counters.text_of("inspected") == "4"
    assert len(list((ws2.captures_dir).rglob("*.jpg"))) == 4
    for root, total in ((ws.root, 4), (ws2.root, 4)):
        log = InspectionLog.for_workspace(root)
        assert log.counts()["total"] == total
        log.close()
    page.log_view.refresh()
    assert page.log_view.model.rowCount() == 4

    page.set_workspace(ws)  # back: that workspace's own log again
    assert page.log_view.model.rowCount() == 4 and page.counters.text_of("inspected") == "0"


def test_switching_workspace_while_judging_leaves_nothing_of_the_old_run(qtbot, make_page, env, tmp_path_factory):
    _, ws2, _ = env
    frames = video_frames(demo_video(tmp_path_factory)[0])
    page = make_page(capture_factory=FakeCamera.factory(frames, fps=60.0))
    page.source_bar.set_source("camera", "0")
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: page.counters.text_of("inspected") not in ("0", ""), timeout=10_000)
    page.set_workspace(ws2)
    qtbot.wait(600)  # what the stopped worker sent last has been delivered by now
    assert page.session is None
    assert page.counters.text_of("inspected") == "0" and page.banner.word.text() == "READY"
    assert page.roi_view.frame_size() is None


def test_the_page_takes_the_model_catalogue_and_names_the_active_model(qtbot, make_page, env):
    _, _, store = env
    catalogue = ModelCatalogue(store)
    page = make_page(models=catalogue)
    active = store.active()
    assert page.store is store
    assert f"model {active.name}" in page.banner.info.text()  # before Start: the model a Start would use
    catalogue.rename(active.id, "Line 3 fans v2")
    assert "model Line 3 fans v2" in page.banner.info.text()


def _contrast(a: QColor, b: QColor) -> float:
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_counters_and_log_verdicts_are_readable_in_both_themes(qtbot, make_page, tmp_path_factory, scheme):
    page = make_page()
    apply_theme(QApplication.instance(), scheme)
    page.set_roi(Roi(*PART_ROI))
    page.start(SourceSpec.parse(str(demo_video(tmp_path_factory)[0])))
    qtbot.waitUntil(lambda: page.session is None, timeout=15_000)
    page.log_view.refresh()
    qtbot.wait(50)
    for key in ("inspected", "go", "ng", "yield"):
        label = page.counters.values[key]
        picture = label.grab().toImage()
        background = picture.pixelColor(picture.width() // 2, 3)  # inside the tile, above the digits
        text = label.palette().color(label.foregroundRole())
        assert _contrast(text, background) >= 4.5, (scheme, key, text.name(), background.name())
    table = page.log_view.table
    base = table.palette().color(table.backgroundRole())
    model = page.log_view.model
    for verdict in ("GO", "NG"):
        rows = [i for i, r in enumerate(model.rows) if r.verdict == verdict]
        if rows:
            colour = model.data(model.index(rows[0], 2), Qt.ItemDataRole.ForegroundRole).color()
            assert _contrast(colour, base) >= 4.5, (scheme, verdict, colour.name(), base.name())


@pytest.mark.parametrize("size", [(1280, 720 - 60), (1366, 768 - 60)])
def test_the_page_fits_a_laptop_screen_without_cut_labels(qtbot, make_page, folder, size):
    page = make_page(size=size)
    page.source_bar.set_source("folder", str(folder))  # the widest source bar: with "Image every"
    qtbot.wait(50)
    hint = page.minimumSizeHint()
    assert hint.width() <= size[0] and hint.height() <= size[1]
    assert page.size().toTuple() == size
    for w in page.findChildren(QAbstractButton) + page.findChildren(QComboBox):
        if w.isVisible():
            assert w.width() >= w.minimumSizeHint().width(), (w.text() if hasattr(w, "text") else w, w.width())


def _folder_spec(folder) -> SourceSpec:
    return SourceSpec("folder", str(folder))

