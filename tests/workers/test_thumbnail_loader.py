"""Thumbnail decoding off the GUI thread: results, reasons, the LRU bound, stale requests."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader, make_thumbnail


@pytest.fixture
def loader(qtbot):
    created = []

    def make(**kwargs):
        created.append(ThumbnailLoader(**kwargs))
        return created[-1]

    yield make
    for item in created:
        item.shutdown()


def _jpeg(path, w, h, value=128):
    img = np.full((h, w, 3), value, np.uint8)
    cv2.rectangle(img, (0, 0), (w // 2, h // 2), (0, 0, 255), -1)
    path.write_bytes(cv2.imencode(".jpg", img)[1].tobytes())
    return str(path)


def test_large_jpeg_is_reduced_and_keeps_its_resolution(tmp_path):
    path = _jpeg(tmp_path / "big.jpg", 1600, 1200)
    image, reason, w, h = make_thumbnail(path, 96)
    assert reason is None and (w, h) == (1600, 1200)
    assert (image.width(), image.height()) == (96, 72)
    r, g, b = image.pixelColor(5, 5).red(), image.pixelColor(5, 5).green(), image.pixelColor(5, 5).blue()
    assert r > 200 and g < 60 and b < 60  # BGR -> RGB done


def test_unreadable_files_give_reasons(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    assert make_thumbnail(str(tmp_path / "empty.jpg"))[1] == "empty file (0 bytes)"
    assert make_thumbnail(str(tmp_path / "text.png"))[1].startswith("not an image")
    assert make_thumbnail(str(tmp_path / "missing.jpg"))[1] == "file not found"


def test_requests_are_decoded_in_the_background(loader, qtbot, tmp_path):
    tl = loader()
    items = [(_jpeg(tmp_path / f"{i}.jpg", 64, 48, i * 20), 1) for i in range(6)]
    got = []
    tl.thumbnails_ready.connect(got.extend)
    tl.request("pane", items)
    qtbot.waitUntil(lambda: len(got) == 6)
    assert all(tl.lookup(p, 1).image is not None for p, _ in items)
    assert tl.lookup(items[0][0], 2) is None  # another version of the file: not the cached one


def test_cache_is_bounded(loader, qtbot, tmp_path):
    tl = loader(cache_bytes=5 * 96 * 96 * 3)
    items = [(_jpeg(tmp_path / f"{i}.jpg", 200, 200, i), 1) for i in range(20)]
    for chunk in range(0, 20, 5):
        tl.request("pane", items[chunk:chunk + 5])
        qtbot.waitUntil(lambda: tl.pending_count() == 0)
    assert tl.cached_bytes <= 5 * 96 * 96 * 3
    assert tl.lookup(items[-1][0], 1) is not None and tl.lookup(items[0][0], 1) is None


def test_a_new_request_replaces_the_old_queue(loader, qtbot, tmp_path):
    tl = loader(threads=1)
    items = [(_jpeg(tmp_path / f"{i}.jpg", 800, 800, i), 1) for i in range(200)]
    tl.request("pane", items)
    tl.request("pane", items[-2:])  # scrolled to the end: the rest is stale
    qtbot.waitUntil(lambda: tl.pending_count() == 0)
    decoded = sum(tl.lookup(p, 1) is not None for p, _ in items)
    assert tl.lookup(items[-1][0], 1) is not None
    assert decoded < 20
