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
from .core.app_settings import AppSettings, load_settings, save_settings
from .core.demo_model import install_on_first_start
from .core.model_store import ModelStore, ModelStoreError
from .core.paths import default_model_store
from .core.tf_runtime import ensure_standard_fds
from .ui.camera_page import CameraPage
from .ui.dataset_page import DatasetPage
from .ui.gui_thread_gc import GuiThreadGarbageCollector
from .ui.insight_page import InsightPage
from .ui.main_window import MainWindow
from .ui.settings_actions import SettingsActions
from .ui.theme import apply_theme
from .ui.training_page import TrainingPage
from .ui.workspace_actions import WorkspaceActions
from .workers.dir_syncer import DirSyncer
from .workers.folder_lister import FolderLister
from .workers.image_loader import ImageLoader
from .workers.model_catalogue import ModelCatalogue
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
    settings_actions: SettingsActions
    catalogue: ModelCatalogue


_collector: GuiThreadGarbageCollector | None = None


def ensure_app(theme: str = "light") -> QApplication:
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
    app.setDesktopFileName("fanqc")  # Wayland matches the window to fanqc.desktop (packaging/) for its icon
    app.setStyle("Fusion")
    apply_theme(app, theme)
    global _collector
    if _collector is None:
        _collector = GuiThreadGarbageCollector(parent=app)
    with resources.as_file(resources.files("fanqc_gui") / "resources" / "fanqc.svg") as icon:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def build_app(settings: AppSettings | None = None, store: ModelStore | None = None) -> AppParts:
    """Create the workers, the pages and the window, wired together (no workspace opened yet)."""
    window = MainWindow()
    store = store or ModelStore(default_model_store())
    # One catalogue of stored models for every page: an activation, a rename or a saved threshold shows
    # everywhere at once.
    catalogue = ModelCatalogue(store, window)
    thumbnails = ThumbnailLoader(window)
    lister = FolderLister(window)
    images = ImageLoader(window)
    syncer = DirSyncer(window)
    dataset = DatasetPage(thumbnails, lister, images, syncer)
    training = TrainingPage(None, catalogue)
    insight = InsightPage(None, catalogue, None, thumbnails=thumbnails)
    camera = CameraPage(None, catalogue)
    window.add_page("Dataset", dataset)
    window.add_page("Training", training)
    window.add_page("Insight", insight)
    window.add_page("Camera", camera)
    window.add_edit_actions([dataset.undo_action, dataset.redo_action])
    settings = settings if settings is not None else load_settings()
    workspaces = WorkspaceActions(window, settings)
    settings_actions = SettingsActions(window, settings, catalogue, training, insight, camera)

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
    return AppParts(window, dataset, workspaces, thumbnails, training, insight, camera, store, settings_actions,
                    catalogue)


def main(argv: list[str] | None = None) -> int:
    # First: in a frozen build the training engine's child starts as this executable with arguments of
    # multiprocessing's own, which argparse would refuse.
    multiprocessing.freeze_support()
    ensure_standard_fds()
    parser = argparse.ArgumentParser(prog="fanqc-gui", description="FanQC: sort, train and inspect GO/NG images.")
    parser.add_argument("workspace", nargs="?", metavar="WORKSPACE",
                        help="workspace folder to open (default: the last one; on first run, the demo workspace)")
    parser.add_argument("--version", action="version", version=f"fanqc-gui {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation offscreen (demo workspace, demo model, a few verdicts) "
                             "without touching your files; exit status 0 when it works")
    args = parser.parse_args(argv)
    if args.self_test:
        from .ui.self_test import main as self_test

        return self_test()
    if not _display_available():
        print("fanqc-gui: error: no display found (DISPLAY / WAYLAND_DISPLAY unset). Run it on a desktop, under "
              "Xvfb, or with QT_QPA_PLATFORM=offscreen; the `fanqc` command works without a display.",
              file=sys.stderr)
        return 2
    app = ensure_app(load_settings().theme)
    parts = launch(args.workspace)  # noqa: F841 -- held here too while the event loop runs
    return app.exec()


# The running windows' compositions. A top-level window belongs to its Python wrapper: once nothing refers to
# it, the next garbage collection (gui_thread_gc.py, every second) deletes the window with every page and
# worker under it, while their threads still run ("QThread: Destroyed while thread ... is still running",
# abort). The application holds what it launched until that window has closed.
_running: list[AppParts] = []


def launch(workspace: str | None = None) -> AppParts:
    """The window on screen with the user's settings and model store; on the very first start the demo
    model is installed and the demo workspace generated, so every page has something to show. The window
    stays alive until it is closed, whether or not the caller keeps what this returns."""
    settings = load_settings()
    parts = build_app(settings, ModelStore(default_model_store()))
    _running.append(parts)
    parts.window.closing.connect(lambda: _running.remove(parts) if parts in _running else None)
    parts.window.show()
    first_model = _install_demo_model_on_first_start(parts, settings)
    parts.workspaces.start(workspace)
    if first_model is not None:
        parts.window.show_status(f"Installed the demo model \"{first_model.name}\" and made it active: the Camera "
                                 f"and Insight pages use it until you train your own.")
    return parts


def _install_demo_model_on_first_start(parts: AppParts, settings: AppSettings):
    try:
        info = install_on_first_start(parts.store, settings)
        save_settings(settings)
    except (OSError, ModelStoreError) as exc:
        parts.window.show_status(f"⚠ Could not install the demo model: {exc}")
        return None
    if info is not None:
        parts.catalogue.notify_changed()
    return info


def _display_available() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    raise SystemExit(main())
