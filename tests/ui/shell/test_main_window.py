"""The main window: menus, pages, status bar, workspace switching, start-up choices, no TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from fanqc_gui.core.app_settings import load_settings
from fanqc_gui.core.paths import demo_workspace_dir, user_config_dir


def _menu_texts(menu):
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_menus_pages_and_status_bar(app_parts, demo_workspace):
    w = app_parts.window
    assert _menu_texts(w.file_menu) == ["&Open workspace…", "&New workspace…", "&Recent workspaces", "&Quit"]
    assert [a.shortcut().toString() for a in w.edit_menu.actions() if not a.isSeparator()] == [
        "Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+,"]
    assert [a.text() for a in w.menuBar().actions()] == ["&File", "&Edit", "&Help"]
    pages = w.pages()
    assert [title for title, _ in pages] == ["Dataset", "Training", "Insight", "Camera"]
    # only real pages, no placeholders for what later issues add
    assert all(type(page).__name__.endswith("Page") for _, page in pages)
    assert str(demo_workspace) in w.windowTitle()
    assert w.statusBar().currentMessage().startswith("Opened")


def test_every_page_works_before_a_workspace_is_open(qtbot):
    """The window can be up with no workspace (first run, a failed open): pages wait, nothing crashes."""
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings
    from fanqc_gui.core.station.camera_sources import SourceSpec

    parts = build_app(AppSettings())
    qtbot.addWidget(parts.window)
    parts.window.show()
    for title, _page in parts.window.pages():
        parts.window.set_current_page(title)
        qtbot.wait(1200)  # longer than the camera log's refresh timer
    parts.camera.start(SourceSpec.parse("0"))
    assert parts.camera.session is None
    assert parts.camera.banner.word.text() == "NO WORKSPACE"
    assert "workspace" in parts.camera.banner.detail.text().lower()
    parts.window.close()


def test_opening_remembers_recent_workspaces(app_parts, demo_workspace, tmp_path):
    other = tmp_path / "line-2"
    assert app_parts.workspaces.create_workspace(other)
    assert sorted(p.name for p in other.iterdir()) == ["GO", "NG", "fanqc-workspace.json", "inbox"]
    assert app_parts.dataset.panes["inbox"].count_text() == "0"
    saved = load_settings()
    assert saved.last_workspace == str(other)
    assert saved.recent_workspaces[:2] == [str(other), str(demo_workspace)]
    app_parts.workspaces.recent_menu.aboutToShow.emit()
    recent = app_parts.workspaces.recent_menu.actions()
    assert [a.text() for a in recent][:2] == [str(other), str(demo_workspace)]
    recent[1].trigger()
    assert app_parts.workspaces.workspace.root == demo_workspace


def test_custom_class_folders_name_the_panes(qtbot, tmp_path):
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings

    root = tmp_path / "fans"
    for sub in ("100", "60", "inbox"):
        (root / sub).mkdir(parents=True)
    (root / "fanqc-workspace.json").write_text(json.dumps({"schema": 1, "go_folder": "100", "ng_folder": "60"}))
    parts = build_app(AppSettings())
    qtbot.addWidget(parts.window)
    assert parts.workspaces.open_path(root)
    assert [p.title for p in parts.dataset.panes.values()] == ["Inbox", "100", "60"]
    assert parts.dataset.move_actions["ng"].text() == "N  →  60"


def test_bad_workspace_is_reported_in_the_status_bar(app_parts, tmp_path):
    assert not app_parts.workspaces.open_path(tmp_path / "nope")
    assert "Cannot open the workspace" in app_parts.window.statusBar().currentMessage()


def test_start_reopens_the_last_workspace(qtbot, demo_workspace):
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings

    settings = AppSettings()
    settings.remember_workspace(demo_workspace)
    parts = build_app(settings)
    qtbot.addWidget(parts.window)
    parts.workspaces.start(None)
    assert parts.workspaces.workspace.root == demo_workspace


def test_first_run_creates_the_demo_workspace(qtbot, monkeypatch):
    from fanqc_gui.app.composition import build_app
    from fanqc_gui.core.app_settings import AppSettings
    from fanqc_gui.workers import demo_builder

    real = demo_builder.generate_demo_workspace
    monkeypatch.setattr(demo_builder, "generate_demo_workspace",
                        lambda root, **kw: real(root, per_class=6, inbox=4, size=64))
    parts = build_app(AppSettings())
    qtbot.addWidget(parts.window)
    parts.window.show()
    with qtbot.waitSignal(parts.workspaces.workspace_opened, timeout=20_000):
        parts.workspaces.start(None)
        assert "Creating the demo workspace" in parts.window.statusBar().currentMessage()
    assert parts.workspaces.workspace.root == demo_workspace_dir().resolve()
    qtbot.waitUntil(lambda: parts.dataset.panes["inbox"].count_text() == "4")
    assert load_settings().last_workspace == str(demo_workspace_dir().resolve())


def test_window_geometry_is_kept_in_a_versioned_settings_file(qtbot, app_parts):
    app_parts.window.resize(1000, 700)
    app_parts.window.close()
    ini = (user_config_dir() / "window.ini").read_text()
    assert "version=1" in ini and "geometry" in ini


def test_start_up_path_does_not_import_tensorflow(demo_workspace):
    code = textwrap.dedent(f"""
        import sys
        from fanqc_gui.app.composition import build_app, ensure_app
        app = ensure_app()
        parts = build_app()
        parts.window.show()
        parts.workspaces.start({str(demo_workspace)!r})
        app.processEvents()
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))
        parts.window.close()
        print('LOADED', loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
