"""The dataset page in the real window: every way of moving files, undo/redo, and safety on failures."""
from __future__ import annotations

import os
import shutil

import pytest
from PySide6.QtCore import Qt
from ui_helpers import digest, drop, names, press, status_text, url_mime

from fanqc_gui.core.dataset import file_moves

Key = Qt.Key
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def test_panes_show_the_workspace_with_live_counts(app_parts, demo_workspace):
    page = app_parts.dataset
    assert [p.title for p in page.panes.values()] == ["Inbox", "GO", "NG"]
    assert [p.count_text() for p in page.panes.values()] == ["8", "24", "24"]
    assert page.panes["inbox"].model.paths()[0] == str(demo_workspace / "inbox" / "inbox_0000.jpg")
    assert page.preview.field("Name") == "inbox_0000.jpg"


def test_g_n_i_move_the_selection_and_select_the_next_image(app_parts, demo_workspace, qtbot):
    page = app_parts.dataset
    inbox, go, ng = page.panes["inbox"], page.panes["go"], page.panes["ng"]
    view = inbox.view
    press(view, Key.Key_G)
    assert "inbox_0000.jpg" in names(demo_workspace / "GO")
    assert "inbox_0000.jpg" not in names(demo_workspace / "inbox")
    assert inbox.current_path().endswith("inbox_0001.jpg")  # auto-advance: one-handed sorting
    assert (inbox.count_text(), go.count_text()) == ("7", "25")
    press(view, Key.Key_N)
    assert "inbox_0001.jpg" in names(demo_workspace / "NG")
    assert inbox.current_path().endswith("inbox_0002.jpg")
    assert ng.count_text() == "25"
    assert "Moved to NG/: inbox_0001.jpg." in status_text(app_parts)
    assert page.preview.field("Name") == "inbox_0002.jpg"

    # I on a GO image sends it back to the inbox
    go.select_paths([str(demo_workspace / "GO" / "go_0000.jpg")])
    go.focus_grid()
    qtbot.waitUntil(lambda: page.active_pane is go)
    press(go.view, Key.Key_I)
    assert "go_0000.jpg" in names(demo_workspace / "inbox")
    assert inbox.model.row_of(str(demo_workspace / "inbox" / "go_0000.jpg")) is not None
    assert go.current_path().endswith("go_0001.jpg")


def test_sorting_twenty_images_then_every_file_is_where_the_panes_say(app_parts, demo_workspace, qtbot):
    page = app_parts.dataset
    for i in range(12):
        shutil.copy(demo_workspace / "GO" / f"go_{i:04d}.jpg", demo_workspace / "inbox" / f"extra_{i:02d}.jpg")
    inbox = page.panes["inbox"]
    qtbot.waitUntil(lambda: inbox.model.total == 20)  # the watcher noticed
    inbox.select_row(0)
    for i in range(20):
        press(inbox.view, Key.Key_G if i % 3 else Key.Key_N)
    assert inbox.model.total == 0
    press(inbox.view, Key.Key_Z, CTRL)  # the last one was a mistake
    for key in ("inbox", "go", "ng"):
        pane = page.panes[key]
        assert sorted(os.path.basename(p) for p in pane.model.paths()) == names(page.folder(key))


def test_delete_moves_to_trash_and_undo_redo(app_parts, demo_workspace):
    page = app_parts.dataset
    inbox = page.panes["inbox"]
    press(inbox.view, Key.Key_Delete)
    assert names(demo_workspace / "trash") == ["inbox_0000.jpg"]
    assert inbox.count_text() == "7"
    press(inbox.view, Key.Key_Z, CTRL)
    assert names(demo_workspace / "trash") == []
    assert "inbox_0000.jpg" in names(demo_workspace / "inbox")
    assert inbox.current_path().endswith("inbox_0000.jpg")  # the restored image is selected
    assert status_text(app_parts).startswith("Undone: move 1 image to trash")
    press(inbox.view, Key.Key_Z, CTRL | SHIFT)
    assert names(demo_workspace / "trash") == ["inbox_0000.jpg"]
    assert page.redo_action.isEnabled() is False and page.undo_action.isEnabled()


def test_undo_walks_back_every_step_of_the_session(app_parts, demo_workspace):
    before = {k: names(demo_workspace / k) for k in ("inbox", "GO", "NG")}
    inbox = app_parts.dataset.panes["inbox"]
    for key in (Key.Key_G, Key.Key_N, Key.Key_G, Key.Key_Delete, Key.Key_N, Key.Key_N):
        press(inbox.view, key)
    assert inbox.model.total == 2
    for _ in range(6):
        press(inbox.view, Key.Key_Z, CTRL)
    assert {k: names(demo_workspace / k) for k in ("inbox", "GO", "NG")} == before
    assert names(demo_workspace / "trash") == []
    assert not app_parts.dataset.undo_action.isEnabled()


def test_multi_selection_moves_together_and_undoes_in_one_step(app_parts, demo_workspace):
    page = app_parts.dataset
    inbox = page.panes["inbox"]
    picked = [str(demo_workspace / "inbox" / f"inbox_000{i}.jpg") for i in (1, 3, 4)]
    inbox.select_paths(picked)
    press(inbox.view, Key.Key_N)
    assert {f"inbox_000{i}.jpg" for i in (1, 3, 4)} <= set(names(demo_workspace / "NG"))
    assert inbox.current_path().endswith("inbox_0002.jpg")
    press(inbox.view, Key.Key_Z, CTRL)
    assert sorted(page.panes["inbox"].selected_paths()) == sorted(picked)


def test_drag_between_panes_moves_the_file(app_parts, demo_workspace):
    page = app_parts.dataset
    go, ng = page.panes["go"], page.panes["ng"]
    src = demo_workspace / "GO" / "go_0005.jpg"
    # exactly what a drag from the GO grid carries: the model's mime data with file URLs
    mime = go.model.mimeData([go.model.index(go.model.row_of(str(src)))])
    assert [u.toLocalFile() for u in mime.urls()] == [str(src)]
    event = drop(ng.view.viewport(), mime)
    assert event.isAccepted()
    assert not src.exists() and (demo_workspace / "NG" / "go_0005.jpg").exists()
    assert (go.count_text(), ng.count_text()) == ("23", "25")
    assert ng.selected_paths() == [str(demo_workspace / "NG" / "go_0005.jpg")]
    press(ng.view, Key.Key_Z, CTRL)
    assert src.exists()


def test_drop_from_outside_copies_and_leaves_originals(app_parts, demo_workspace, tmp_path):
    outside = tmp_path / "camera-export"
    outside.mkdir()
    for i in range(3):
        shutil.copy(demo_workspace / "NG" / f"ng_000{i}_{['missing_label', 'off_centre_label', 'torn_label'][i]}.jpg",
                    outside / f"cam_{i}.jpg")
    (outside / "readme.txt").write_text("not an image")
    single = tmp_path / "single.jpg"
    shutil.copy(demo_workspace / "GO" / "go_0001.jpg", single)
    originals = {p: digest(p) for p in [*outside.glob("*.jpg"), single]}

    inbox = app_parts.dataset.panes["inbox"]
    event = drop(inbox.view.viewport(), url_mime([outside, single]))
    assert event.isAccepted() and event.dropAction() == Qt.DropAction.CopyAction
    assert {"cam_0.jpg", "cam_1.jpg", "cam_2.jpg", "single.jpg"} <= set(names(demo_workspace / "inbox"))
    assert {p: digest(p) for p in originals} == originals  # originals untouched
    assert inbox.count_text() == "12"
    assert "Copied into inbox/" in status_text(app_parts)
    assert digest(demo_workspace / "inbox" / "single.jpg") == originals[single]


def test_name_clash_gets_a_suffix_never_overwrites(app_parts, demo_workspace):
    taken = demo_workspace / "GO" / "inbox_0000.jpg"
    shutil.copy(demo_workspace / "GO" / "go_0000.jpg", taken)
    old = digest(taken)
    moving = digest(demo_workspace / "inbox" / "inbox_0000.jpg")
    press(app_parts.dataset.panes["inbox"].view, Key.Key_G)
    assert digest(taken) == old
    assert digest(demo_workspace / "GO" / "inbox_0000 (2).jpg") == moving
    assert "as inbox_0000 (2).jpg: the name was taken" in status_text(app_parts)


def test_file_deleted_behind_the_apps_back(app_parts, demo_workspace, qtbot):
    inbox = app_parts.dataset.panes["inbox"]
    victim = demo_workspace / "inbox" / "inbox_0000.jpg"
    victim.unlink()  # e.g. the file manager deleted it; the pane still shows it
    go_before = names(demo_workspace / "GO")
    press(inbox.view, Key.Key_G)
    text = status_text(app_parts)
    assert "Could not move inbox_0000.jpg" in text and "moved or deleted outside FanQC" in text
    assert names(demo_workspace / "GO") == go_before
    assert app_parts.dataset.panes["go"].count_text() == "24"
    assert not app_parts.dataset.undo_action.isEnabled()
    qtbot.waitUntil(lambda: inbox.model.total == 7)  # the pane shows the truth again


def _read_only(folder):
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder.chmod(0o755)
        pytest.skip("running as root: chmod cannot make a folder read-only")


def test_read_only_class_folder(app_parts, demo_workspace):
    _read_only(demo_workspace / "GO")
    try:
        before = names(demo_workspace / "inbox")
        press(app_parts.dataset.panes["inbox"].view, Key.Key_G)
        assert "cannot write to GO/" in status_text(app_parts)
        assert names(demo_workspace / "inbox") == before
    finally:
        (demo_workspace / "GO").chmod(0o755)


def test_refused_write_is_reported_and_changes_nothing(app_parts, demo_workspace, monkeypatch):
    """The read-only case as the OS reports it (runs even as root, where chmod has no effect)."""
    def refuse(src, dst, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(file_moves, "_rename_no_replace", refuse)
    before = {k: names(demo_workspace / k) for k in ("inbox", "GO")}
    press(app_parts.dataset.panes["inbox"].view, Key.Key_G)
    text = status_text(app_parts)
    assert "Could not move inbox_0000.jpg: cannot write to GO/: permission denied" in text
    assert "Nothing was changed" in text
    assert {k: names(demo_workspace / k) for k in ("inbox", "GO")} == before
    assert app_parts.dataset.panes["inbox"].count_text() == "8"


def test_moving_the_last_image_selects_the_new_last(app_parts, demo_workspace):
    inbox = app_parts.dataset.panes["inbox"]
    inbox.select_row(7)
    assert inbox.current_path().endswith("inbox_0007.jpg")
    press(inbox.view, Key.Key_N)
    assert inbox.current_path().endswith("inbox_0006.jpg")
    press(inbox.view, Key.Key_G)
    assert inbox.current_path().endswith("inbox_0005.jpg")
    assert app_parts.dataset.preview.field("Name") == "inbox_0005.jpg"


def test_long_undo_labels_never_widen_the_window(app_parts, demo_workspace, qtbot):
    window, page = app_parts.window, app_parts.dataset
    go = page.panes["go"]
    go.select_paths(go.model.paths()[:12])
    go.focus_grid()
    press(go.view, Key.Key_N)
    assert page.undo_action.text().startswith("Undo move 12 images to")
    qtbot.wait(50)
    width, page_min = window.width(), page.minimumSizeHint().width()
    assert page_min <= 1280 - 16 and page.minimumSizeHint().height() <= 720 - 60  # fits a laptop screen
    # a workspace's own folder names make it longer still
    page.undo_action.setText("Undo move 12 images to NG-scratches-dents-and-cracks-on-the-left-blade")
    qtbot.wait(50)
    assert window.width() == width and page.minimumSizeHint().width() == page_min
    button = page.undo_buttons[0]
    assert button.text().endswith("…") and button.width() < 260
    assert "NG-scratches-dents-and-cracks-on-the-left-blade" in button.toolTip()  # the full text on hover
    assert page.undo_action.text() in [a.text() for a in window.edit_menu.actions()]  # the menu says it all
