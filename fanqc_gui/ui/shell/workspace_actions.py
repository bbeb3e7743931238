"""File menu: open / create a workspace, recent workspaces, quit; and which workspace to open at start."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from fanqc_gui.core.app_settings import AppSettings, save_settings
from fanqc_gui.core.dataset.workspace import Workspace, open_workspace
from fanqc_gui.core.paths import demo_workspace_dir
from fanqc_gui.ui.shell.main_window import MainWindow
from fanqc_gui.workers.demo_builder import DemoBuilder


class WorkspaceActions(QObject):
    workspace_opened = Signal(object)  # Workspace

    def __init__(self, window: MainWindow, settings: AppSettings):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.workspace: Workspace | None = None
        self.demo_builder: DemoBuilder | None = None
        menu = window.file_menu
        self.open_action = menu.addAction("&Open workspace…")
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.new_action = menu.addAction("&New workspace…")
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.recent_menu = menu.addMenu("&Recent workspaces")
        menu.addSeparator()
        self.quit_action = menu.addAction("&Quit")
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.open_action.triggered.connect(self._on_open_triggered)
        self.new_action.triggered.connect(self._on_new_triggered)
        self.quit_action.triggered.connect(window.close)
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        window.closing.connect(self.shutdown)
        self._rebuild_recent_menu()

    def start(self, argument: str | None = None) -> None:
        """At launch: the workspace given, else the default one from the settings, else the last one, else the
        demo workspace (created if needed)."""
        if argument:
            self.open_path(argument)
            return
        default = self.settings.default_workspace
        if default and Path(default).expanduser().is_dir() and self.open_path(Path(default).expanduser()):
            return
        last = self.settings.last_workspace
        if last and Path(last).is_dir():
            self.open_path(last)
            return
        demo = demo_workspace_dir()
        if demo.is_dir() and any(demo.iterdir()):
            self.open_path(demo)
        else:
            self.create_demo()

    def open_path(self, path: str | Path) -> bool:
        try:
            ws = open_workspace(path)
            ws.ensure_folders()
        except (OSError, ValueError) as exc:
            self.window.show_status(f"⚠ Cannot open the workspace {path}: {exc}")
            return False
        self.workspace = ws
        self.settings.remember_workspace(ws.root)
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.window.show_status(f"⚠ Could not save the settings: {exc}")
        self.window.set_workspace_label(str(ws.root))
        self._rebuild_recent_menu()
        self.workspace_opened.emit(ws)
        self.window.show_status(f"Opened {ws.root}")
        return True

    def create_demo(self, **options) -> None:
        """Generate the demo workspace in the background; it opens when ready."""
        root = demo_workspace_dir()
        self.window.show_status(f"Creating the demo workspace in {root} (a few seconds)…")
        self.demo_builder = DemoBuilder(root, **options)
        self.demo_builder.demo_ready.connect(self._on_demo_ready)
        self.demo_builder.demo_failed.connect(self.window.show_status)
        self.demo_builder.start()

    @Slot()
    def shutdown(self) -> None:
        if self.demo_builder is not None:
            self.demo_builder.wait()

    @Slot(str)
    def _on_demo_ready(self, root: str) -> None:
        if self.open_path(root):
            self.window.show_status(f"Demo workspace ready in {root}: sort the inbox with G (GO) and N (NG).")

    @Slot()
    def _on_open_triggered(self) -> None:
        start = str(self.workspace.root) if self.workspace else str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self.window, "Open workspace", start)
        if not chosen:
            return
        try:
            ws = open_workspace(chosen)
        except (OSError, ValueError):
            self.open_path(chosen)  # reports why in the status bar
            return
        if not ws.go_dir.is_dir() and not ws.ng_dir.is_dir():
            answer = QMessageBox.question(
                self.window, "Open workspace",
                f"{chosen} has no {ws.mapping.go_folder}/ and {ws.mapping.ng_folder}/ folders.\n"
                "Create them (and inbox/) here?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.open_path(chosen)

    @Slot()
    def _on_new_triggered(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self.window, "New workspace: choose or create a folder",
                                                  str(Path.home()))
        if chosen:
            self.create_workspace(chosen)

    def create_workspace(self, folder: str | Path) -> bool:
        try:
            ws = Workspace(Path(folder).expanduser().resolve())
            ws.ensure_folders()
            ws.save_settings()
        except OSError as exc:
            self.window.show_status(f"⚠ Cannot create a workspace in {folder}: {exc}")
            return False
        return self.open_path(ws.root)

    @Slot()
    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for root in self.settings.recent_workspaces:
            action = QAction(root, self.recent_menu)
            action.setEnabled(Path(root).is_dir())
            action.triggered.connect(lambda _checked=False, root=root: self.open_path(root))
            self.recent_menu.addAction(action)
        self.recent_menu.setEnabled(bool(self.settings.recent_workspaces))
