"""The composition root: the QApplication set up once (ensure_app), the workers, pages and window
created and wired together (build_app), and the window launched with the user's settings and
model store (launch), installing the shipped demo model on the very first start."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from fanqc_gui import __version__
from fanqc_gui.core.app_settings import AppSettings, default_model_store, load_settings, save_settings
from fanqc_gui.core.models.demo_model import install_on_first_start
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.ui.dataset.dataset_page import DatasetPage
from fanqc_gui.ui.insight.insight_page import InsightPage
from fanqc_gui.ui.shell.gui_thread_gc import GuiThreadGarbageCollector
from fanqc_gui.ui.shell.main_window import MainWindow
from fanqc_gui.ui.shell.settings_actions import SettingsActions
from fanqc_gui.ui.shell.workspace_actions import WorkspaceActions
from fanqc_gui.ui.station.camera_page import CameraPage
from fanqc_gui.ui.theme import apply_theme
from fanqc_gui.ui.training.training_page import TrainingPage
from fanqc_gui.workers.dir_syncer import DirSyncer
from fanqc_gui.workers.folder_lister import FolderLister
from fanqc_gui.workers.image_loader import ImageLoader
from fanqc_gui.workers.model_catalogue import ModelCatalogue
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader


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
