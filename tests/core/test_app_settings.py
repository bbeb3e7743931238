"""The app's small settings file: last and recent workspaces, versioned, tolerant of bad files."""
from __future__ import annotations

import json

from fanqc_gui.core.app_settings import MAX_RECENT, AppSettings, load_settings, save_settings, settings_path
from fanqc_gui.core.dataset.folder_listing import list_folder, natural_key, scan_folder


def test_round_trip_in_the_user_config_dir(tmp_path):
    s = AppSettings()
    for i in range(MAX_RECENT + 3):
        (tmp_path / f"ws{i}").mkdir()
        s.remember_workspace(tmp_path / f"ws{i}")
    s.remember_workspace(tmp_path / "ws5")  # reopening moves it to the front, no duplicate
    save_settings(s)
    data = json.loads(settings_path().read_text())
    assert data["schema"] == 1
    loaded = load_settings()
    assert loaded.last_workspace == str(tmp_path / "ws5")
    assert len(loaded.recent_workspaces) == MAX_RECENT
    assert loaded.recent_workspaces[:2] == [str(tmp_path / "ws5"), str(tmp_path / f"ws{MAX_RECENT + 2}")]
    assert [p.name for p in settings_path().parent.iterdir()] == ["settings.json"]  # no temp files left


def test_unreadable_or_newer_files_give_defaults():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    for text in ("{not json", "[]", json.dumps({"schema": 99, "last_workspace": "/x"})):
        path.write_text(text)
        assert load_settings() == AppSettings()


def test_forget_workspace():
    s = AppSettings(last_workspace="/a", recent_workspaces=["/a", "/b"])
    s.forget_workspace("/a")
    assert s == AppSettings(last_workspace=None, recent_workspaces=["/b"])


def test_folder_listing_natural_order_skips_hidden_and_non_images(tmp_path):
    for name in ("img_10.jpg", "img_2.JPG", "IMG_3.png", ".fanqc-123.part", "notes.txt", ".hidden.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    entries = list_folder(tmp_path)
    assert [e.name for e in entries] == ["img_2.JPG", "IMG_3.png", "img_10.jpg"]
    assert sorted(["a10", "a9", "A1"], key=natural_key) == ["A1", "a9", "a10"]
    listing = scan_folder(tmp_path)
    assert listing.signatures == {e.signature for e in entries}
    assert list_folder(tmp_path / "missing") == []
