"""Edit > Settings… and Help > About, used like a supervisor would: change, press OK, see it applied."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from fanqc_gui.core.app_settings import AppSettings, load_settings
from fanqc_gui.core.models.demo_model import shipped_demo_model
from fanqc_gui.core.station.station_settings import Roi, load_station_settings
from fanqc_gui.ui.shell.about_dialog import AboutDialog
from fanqc_gui.ui.theme import apply_theme, current_scheme


@pytest.fixture
def light_theme_after():
    yield
    apply_theme(QApplication.instance(), "light")


def test_settings_apply_to_the_running_app_and_the_command_line(qtbot, app_parts, tmp_path, monkeypatch,
                                                                light_theme_after):
    monkeypatch.delenv("FANQC_MODELS")  # the store folder is the user's choice now, not the test's
    other_store = tmp_path / "line-2-models"
    shutil.copytree(shipped_demo_model(), other_store / "trained-on-line-2")
    start_ws = tmp_path / "start-here"
    start_ws.mkdir()
    frames = tmp_path / "frames"
    frames.mkdir()

    dialog = app_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    assert dialog.model_store.isEnabled()
    dialog.default_workspace.setText(str(start_ws))
    dialog.model_store.setText(str(other_store))
    dialog.source_kind.setCurrentIndex(dialog.source_kind.findData("folder"))
    dialog.source.setText(str(frames))
    dialog.roi.setText("10, 20, 300, 200")
    dialog.capture.go_percent.setValue(5.0)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    app_parts.settings_actions.apply(dialog.app_settings(), dialog.station_settings())

    saved = load_settings()
    assert (saved.default_workspace, saved.model_store, saved.theme) == (str(start_ws), str(other_store), "dark")
    assert saved.recent_workspaces  # the File menu's list survives
    assert app_parts.store.root == other_store
    assert app_parts.training.models.model_ids() == ["trained-on-line-2"]
    assert app_parts.insight.model_info.id == "trained-on-line-2"
    camera = app_parts.camera
    assert camera.source_bar.kind() == "folder" and camera.source_bar.target_edit.text() == str(frames)
    assert camera.roi_view.roi() == Roi(10, 20, 300, 200)
    station = load_station_settings()
    assert station.roi == Roi(10, 20, 300, 200) and station.capture.go_fraction == pytest.approx(0.05)
    assert current_scheme() == "dark" and QApplication.palette().window().color().lightness() < 80

    env = {k: v for k, v in os.environ.items() if k != "FANQC_MODELS"}
    out = subprocess.run([sys.executable, "-m", "fanqc_gui", "models", "--json"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [m["id"] for m in json.loads(out.stdout)["models"]] == ["trained-on-line-2"]


def test_a_bad_region_or_source_is_refused_with_the_reason_and_nothing_changes(qtbot, app_parts):
    before = load_station_settings()
    dialog = app_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    dialog.roi.setText("10,20,abc")
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "Region judged" in dialog.error.text() and "four whole numbers" in dialog.error.text()
    dialog.roi.setText("")
    dialog.source_kind.setCurrentIndex(dialog.source_kind.findData("camera"))
    dialog.source.setText("front camera")
    dialog.accept()
    assert "Camera source" in dialog.error.text() and "must be a number" in dialog.error.text()
    assert load_station_settings() == before


def test_the_default_workspace_opens_at_start(qtbot, demo_workspace, tmp_path):
    from fanqc_gui.app.composition import build_app

    last = tmp_path / "last"
    last.mkdir()
    settings = AppSettings(last_workspace=str(last), default_workspace=str(demo_workspace))
    parts = build_app(settings)
    qtbot.addWidget(parts.window)
    parts.workspaces.start(None)
    assert parts.workspaces.workspace.root == demo_workspace


def test_about_lists_the_versions_and_copies_them(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    facts = dict(dialog.facts)
    assert facts["TensorFlow"].startswith("2.") and facts["OpenCV"].startswith("5.")
    assert facts["Qt"].startswith("6.") and facts["LiteRT"] and facts["FanQC"]
    dialog.copy_to_clipboard()
    text = QGuiApplication.clipboard().text()
    assert "TensorFlow: 2." in text and "Models: " in text


def test_an_unusable_model_store_is_reported_and_the_old_one_kept(qtbot, app_parts, tmp_path, monkeypatch):
    monkeypatch.delenv("FANQC_MODELS")
    before = app_parts.store.root
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    dialog = app_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    new = dialog.app_settings()
    new.model_store = str(blocker / "models")  # cannot be created: a file is in the way
    app_parts.settings_actions.apply(new, dialog.station_settings())
    assert app_parts.store.root == before
    message = app_parts.window.statusBar().currentMessage()
    assert message.startswith("⚠") and "cannot use the model store" in message
    assert load_settings().model_store is None


def test_folders_are_stored_absolute_with_home_expanded(qtbot, app_parts, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "myws").mkdir()
    dialog = app_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    dialog.default_workspace.setText("~/myws")
    assert dialog.problem() is None
    assert dialog.app_settings().default_workspace == str(tmp_path / "myws")
