"""`fanqc-gui [WORKSPACE]`: the FanQC desktop application.

The start-up path imports Qt, OpenCV and numpy only; TensorFlow is loaded later by the pages that train
or predict, so the window is on screen within about a second.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from dataclasses import dataclass
from importlib import resources

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from . import __version__
from .core.app_settings import AppSettings, load_settings
from .core.model_store import ModelStore
from .core.paths import default_model_store
from .ui.camera_page import CameraPage
from .ui.dataset_page import DatasetPage
from .ui.insight_page import InsightPage
from .ui.main_window import MainWindow
from .ui.training_page import TrainingPage
from .ui.workspace_actions import WorkspaceActions
from .workers.dir_syncer import DirSyncer
from .workers.folder_lister import FolderLister
from .workers.image_loader import ImageLoader
from .workers.thumbnail_loader import ThumbnailLoader


@dataclass
class AppParts:
    """The composed application; tests, screenshots and the benchmark drive these."""

    window: MainWindow
    dataset: DatasetPage
    workspaces: WorkspaceActions
    thumbnails: ThumbnailLoader
    training: TrainingPage
    insight: InsightPage
    camera: CameraPage
    store: ModelStore


def style_sheet() -> str:
    return (resources.files("fanqc_gui") / "resources" / "fanqc.qss").read_text(encoding="utf-8")


def ensure_app() -> QApplication:
    # Background threads (folder listing, thumbnail decoding) run Python too. With the default 5 ms GIL
    # switch interval each Python call of the GUI thread (a slot, a delegate's paint) can wait up to 5 ms
    # for the GIL, and a repaint of 60 thumbnails becomes a visible stall; 1 ms keeps the window fluid.
    sys.setswitchinterval(0.001)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("FanQC")
    app.setOrganizationName("FanQC")
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    with resources.as_file(resources.files("fanqc_gui") / "resources" / "fanqc.svg") as icon:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def build_app(settings: AppSettings | None = None, store: ModelStore | None = None) -> AppParts:
    """Create the workers, the pages and the window, wired together (no workspace opened yet)."""
    window = MainWindow()
    store = store or ModelStore(default_model_store())
    thumbnails = ThumbnailLoader(window)
    lister = FolderLister(window)
    images = ImageLoader(window)
    syncer = DirSyncer(window)
    dataset = DatasetPage(thumbnails, lister, images, syncer)
    training = TrainingPage(None, store)
    insight = InsightPage(None, store, None, thumbnails=thumbnails)
    camera = CameraPage(None, store)
    window.add_page("Dataset", dataset)
    window.add_page("Training", training)
    window.add_page("Insight", insight)
    window.add_page("Camera", camera)
    window.add_edit_actions([dataset.undo_action, dataset.redo_action])
    workspaces = WorkspaceActions(window, settings if settings is not None else load_settings())

    def open_workspace_in_pages(ws) -> None:
        dataset.set_workspace(ws)  # first: it creates the session's move journal
        training.set_workspace(ws)
        insight.set_workspace(ws, dataset.journal)
        camera.set_workspace(ws)

    workspaces.workspace_opened.connect(open_workspace_in_pages)
    # The supervisor's loop: a run's filters appear live in insight, a new model is offered there, and
    # moves made from insight are undoable from the dataset page.
    training.first_layer_weights_ready.connect(insight.show_live_filters)
    training.model_trained.connect(lambda model_id: insight.refresh_models(prefer=model_id))
    insight.files_moved.connect(lambda _pairs: dataset.refresh_after_outside_moves())
    window.add_close_guard(training.confirm_close)
    for page in (training, insight, camera):
        window.closing.connect(page.shutdown)
    for worker in (thumbnails, lister, images, syncer):
        window.closing.connect(worker.shutdown)
    return AppParts(window, dataset, workspaces, thumbnails, training, insight, camera, store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fanqc-gui", description="FanQC: sort, train and inspect GO/NG images.")
    parser.add_argument("workspace", nargs="?", metavar="WORKSPACE",
                        help="workspace folder to open (default: the last one; on first run, the demo workspace)")
    parser.add_argument("--version", action="version", version=f"fanqc-gui {__version__}")
    args = parser.parse_args(argv)
    multiprocessing.freeze_support()  # training runs in a spawned engine process (also in frozen builds)
    if not _display_available():
        print("fanqc-gui: error: no display found (DISPLAY / WAYLAND_DISPLAY unset). Run it on a desktop, under "
              "Xvfb, or with QT_QPA_PLATFORM=offscreen; the `fanqc` command works without a display.",
              file=sys.stderr)
        return 2
    app = ensure_app()
    parts = build_app()
    parts.window.show()
    parts.workspaces.start(args.workspace)
    return app.exec()


def _display_available() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    raise SystemExit(main())
