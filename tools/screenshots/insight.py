"""Screenshots of the insight page with real content: insight.png (and insight_feature_maps.png), and the
page at the smallest supported window (1280x720: insight_1280x720.png) in the light and the dark theme
(insight_dark.png), to check that nothing is clipped or unreadable.

    python -m tools.screenshots.insight docs/screenshots
    python -m tools.screenshots.insight --demo-model /tmp/shots   # quick: the shipped demo model

Standalone it generates a demo workspace in which two defects were filed as GO by mistake, trains a model
on it and shows the page the way a supervisor finds it after a run: the table sorted by how wrong the
model is, the worst image open with its Grad-CAM heatmap. The app's screenshot script can call
`render_insight_screenshot(path, workspace, store)` with its own workspace and store instead (a model is
trained there first if the store has none).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from fanqc_gui.ui.event_loop import wait_until as _wait
from tools.screenshots.grab import save_grab as _save

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MISFILED = ("ng_0007_torn_label.jpg", "ng_0013_smudged_label.jpg")


def ensure_model(workspace, store) -> None:
    """Train a model (on this thread) when the store has none, and activate it."""
    from fanqc_gui.core.training.trainer import TrainOptions, train

    if store.list():
        return
    result = train(workspace, store, TrainOptions(preset="reference",
                                                  image_size=80, epochs=10, seed=3), name="Line 3 model")
    store.activate(result.model.id)


SMALL_PAGE = (1280, 720 - 60)  # the page in a 1280x720 window (menu, page tabs and status bar take the rest)


def render_insight_screenshot(path: str | Path, workspace, store, size: tuple[int, int] = (1440, 900),
                              feature_maps_path: str | Path | None = None,
                              small_paths: dict[str, str | Path] | None = None) -> list[Path]:
    """insight.png at `size`; small_paths: {"light": path, "dark": path} renders the page at SMALL_PAGE in
    those themes too (the light theme is restored afterwards)."""
    from PySide6.QtWidgets import QApplication

    from fanqc_gui.ui import theme
    from fanqc_gui.ui.insight.insight_page import InsightPage

    app = QApplication.instance() or QApplication([])
    if app.property("fanqcScheme") is None:  # standalone: the app's style as the user sees it
        theme.apply_theme(app, "light")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_model(workspace, store)
    page = InsightPage(workspace, store)
    page.resize(*size)
    page.show()
    written = []
    scheme = theme.current_scheme()
    try:
        if not _wait(app, lambda: page.predictions is not None and page.filters.tile_count() > 0, 300):
            raise RuntimeError(f"no predictions: {page.run_bar.progress.format()} / {page.busy_label.text()}")
        page.table.sort_by(0)  # most wrong first
        page.table.select_proxy_row(0)
        row = page.table.current_row()
        if not _wait(app, lambda: page.gradcam.insight is not None and page.gradcam.insight.path == row.path, 120):
            raise RuntimeError(f"no heatmap for {row.path}: {page.busy_label.text()}")
        page.thumbnails.request("screenshot", [(r.path, r.mtime_ns) for r in page.table.visible_rows()[:40]])
        _wait(app, lambda: page.thumbnails.pending_count() == 0, 30)
        _wait(app, lambda: False, 0.4)  # layout, thumbnails and paint settle
        written.append(_save(page, path))
        if feature_maps_path is not None:
            page.tabs.setCurrentWidget(page.feature_maps)
            _wait(app, lambda: False, 0.3)
            written.append(_save(page, Path(feature_maps_path)))
            page.tabs.setCurrentWidget(page.filters)
        if small_paths:
            page.resize(*SMALL_PAGE)
            for name, target in small_paths.items():
                theme.apply_theme(app, name)
                _wait(app, lambda: False, 0.4)
                written.append(_save(page, Path(target)))
    finally:
        if small_paths:
            theme.apply_theme(app, scheme)
        page.shutdown()
        page.close()
        page.deleteLater()
    return written


def make_demo(root: Path, per_class: int = 300):
    """A demo workspace with two defects filed as GO by mistake; returns (workspace, store)."""
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore

    generate_demo_workspace(root / "ws", per_class=per_class, inbox=40)
    for name in MISFILED:
        os.replace(root / "ws" / "NG" / name, root / "ws" / "GO" / name)
    return open_workspace(root / "ws"), ModelStore(root / "models")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--demo-model" in argv
    argv = [a for a in argv if a != "--demo-model"]
    out_dir = Path(argv[0]) if argv else Path("docs/screenshots")
    with tempfile.TemporaryDirectory(prefix="fanqc-insight-screens-") as tmp:
        os.environ["FANQC_CONFIG_DIR"] = str(Path(tmp) / "config")
        workspace, store = make_demo(Path(tmp), per_class=60 if quick else 300)
        if quick:  # no training: the model shipped with the app
            from fanqc_gui.core.models.demo_model import install_demo_model

            install_demo_model(store)
        small = {"light": out_dir / "insight_1280x720.png", "dark": out_dir / "insight_dark.png"}
        for p in render_insight_screenshot(out_dir / "insight.png", workspace, store,
                                           feature_maps_path=out_dir / "insight_feature_maps.png",
                                           small_paths=small):
            print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
