"""`python -m tools.screenshots OUT_DIR`: render every page of the app on the demo workspace.

Runs offscreen (QT_QPA_PLATFORM=offscreen) with a private config folder, so neither the user's settings nor
window geometry are read or changed. Waits until the thumbnails on screen and the preview are loaded.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from fanqc_gui.ui.event_loop import wait_until as _wait
from tools.screenshots.grab import save_grab

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def render(out_dir: Path, size: tuple[int, int] = (1440, 900)) -> list[Path]:
    from fanqc_gui.app.composition import build_app, ensure_app
    from fanqc_gui.core.app_settings import AppSettings
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="fanqc-screens-") as tmp:
        os.environ["FANQC_CONFIG_DIR"] = str(Path(tmp) / "config")
        ws = Path(tmp) / "demo-workspace"
        generate_demo_workspace(ws)
        app = ensure_app()
        parts = build_app(AppSettings())
        parts.window.resize(*size)
        parts.window.show()
        parts.workspaces.open_path(ws)
        panes = parts.dataset.panes.values()
        _wait(app, lambda: all(p.model.rowCount() for p in panes), 10)
        inbox = parts.dataset.panes["inbox"]
        inbox.select_row(2)
        inbox.focus_grid()
        _wait(app, lambda: all(p.view.visible_thumbnails_loaded() for p in panes)
              and parts.dataset.preview.field("Resolution").endswith("px"), 15)
        for title, _page in parts.window.pages()[:1]:  # the other pages get richer states below
            parts.window.set_current_page(title)
            _wait(app, lambda: False, 0.2)  # let layout and paint settle
            target = out_dir / f"{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}.png"
            save_grab(parts.window, target)
            written.append(target)
        written += render_dialogs(app, parts, out_dir)
        parts.window.close()
    return written


def render_dialogs(app, parts, out_dir: Path) -> list[Path]:
    """Edit > Settings… and Help > About."""
    from fanqc_gui.ui.shell.about_dialog import AboutDialog

    written = []
    for name, dialog in (("settings", parts.settings_actions.settings_dialog()), ("about", AboutDialog(parts.window))):
        dialog.show()
        _wait(app, lambda: False, 0.2)
        save_grab(dialog, out_dir / f"{name}.png")
        written.append(out_dir / f"{name}.png")
        if name == "settings":  # the Line I/O tab, with the PLC and MQTT outputs on
            form = dialog.line_io
            dialog.tabs.setCurrentWidget(dialog.line_io_tab)
            form.modbus_on.setChecked(True)
            form.mqtt_on.setChecked(True)
            form.line_name.setText("line-3")
            _wait(app, lambda: False, 0.2)
            save_grab(dialog, out_dir / "settings_line_io.png")
            written.append(out_dir / "settings_line_io.png")
        dialog.close()
    return written


def render_pages_with_models(out_dir: Path) -> list[Path]:
    """Training (during and after a real run), insight and camera, on one demo workspace and model store."""
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore
    from tools.screenshots.camera import render_camera_screenshot
    from tools.screenshots.insight import make_demo as make_insight_demo
    from tools.screenshots.insight import render_insight_screenshot
    from tools.screenshots.training import render_training_screenshots

    with tempfile.TemporaryDirectory(prefix="fanqc-screens-") as tmp:
        os.environ["FANQC_CONFIG_DIR"] = str(Path(tmp) / "config")
        generate_demo_workspace(Path(tmp) / "ws")
        ws = open_workspace(Path(tmp) / "ws")
        store = ModelStore(Path(tmp) / "models")
        written = list(render_training_screenshots(out_dir, ws, store))
        if store.active() is None and store.list():
            store.activate(store.list()[-1].id)
        written.append(Path(render_camera_screenshot(out_dir / "camera.png", ws, store)))
        # Insight on a workspace where two defects were filed as GO by mistake, as a supervisor finds it.
        insight_ws, insight_store = make_insight_demo(Path(tmp) / "insight")
        written += render_insight_screenshot(out_dir / "insight.png", insight_ws, insight_store,
                                             feature_maps_path=out_dir / "insight_feature_maps.png")
        # Anomaly mode: trained from the good parts of a fresh demo workspace, then its map in Insight.
        from tools.screenshots.anomaly import render_anomaly_screenshots

        generate_demo_workspace(Path(tmp) / "anomaly" / "ws")
        written += render_anomaly_screenshots(out_dir, Path(tmp) / "anomaly" / "ws")
        # Every page of the real window at the smallest supported screen, and in the dark theme.
        written += render_window_pages(out_dir, insight_ws.root, insight_store, (1280, 720), "light", "_1280x720")
        written += render_window_pages(out_dir, insight_ws.root, insight_store, (1440, 900), "dark", "_dark")
    return written


def render_window_pages(out_dir: Path, workspace: Path, store, size: tuple[int, int], scheme: str,
                        suffix: str) -> list[Path]:
    """Each page of the whole window (menus, status bar and all) as a user sees it at `size` in `scheme`."""
    from fanqc_gui.app.composition import build_app, ensure_app
    from fanqc_gui.core.app_settings import AppSettings
    from fanqc_gui.ui.theme import apply_theme

    app = ensure_app()
    apply_theme(app, scheme)
    parts = build_app(AppSettings(), store)
    parts.window.resize(*size)
    parts.window.show()
    parts.workspaces.open_path(workspace)
    panes = parts.dataset.panes.values()
    _wait(app, lambda: all(p.model.rowCount() for p in panes) and all(p.view.visible_thumbnails_loaded()
                                                                      for p in panes), 15)
    written = []
    for title, _page in parts.window.pages():
        parts.window.set_current_page(title)
        if title == "Insight":  # predictions start when the page is shown
            _wait(app, lambda: parts.insight.is_busy(), 2)
            _wait(app, lambda: not parts.insight.is_busy(), 60)
        _wait(app, lambda: False, 0.5)  # let layout and paint settle
        target = out_dir / f"{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}{suffix}.png"
        save_grab(parts.window, target)
        written.append(target)
    parts.window.close()
    apply_theme(app, "light")
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else Path("docs/screenshots")
    for path in render(out_dir) + render_pages_with_models(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
