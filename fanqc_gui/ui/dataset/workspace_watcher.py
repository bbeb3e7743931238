"""Notices files added, removed or renamed by other programs (camera station, scripts, file manager).

QFileSystemWatcher reports every change to a folder; bursts (a script copying 500 files) are coalesced by
a ~300 ms single-shot timer per folder, so each pane is re-listed once per burst.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

DEBOUNCE_MS = 300


class WorkspaceWatcher(QObject):
    folder_changed = Signal(str)  # key of the folder whose contents changed

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS):
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_watcher_directory_changed)
        self._folders: dict[str, str] = {}  # key -> folder
        self._timers: dict[str, QTimer] = {}
        self._root = ""
        self._debounce_ms = debounce_ms

    def watch(self, root: str, folders: dict[str, str]) -> None:
        """Watch these folders (key -> path) and root (to notice a folder being created or replaced)."""
        self.clear()
        self._root = os.path.normpath(root)
        self._folders = {k: os.path.normpath(v) for k, v in folders.items()}
        for key in self._folders:
            timer = QTimer(self, singleShot=True, interval=self._debounce_ms)
            timer.timeout.connect(lambda key=key: self.folder_changed.emit(key))
            self._timers[key] = timer
        self._add_existing()

    def clear(self) -> None:
        paths = self._watcher.directories()
        if paths:
            self._watcher.removePaths(paths)
        for timer in self._timers.values():
            timer.stop()
            timer.deleteLater()
        self._timers.clear()
        self._folders.clear()

    def watched(self) -> list[str]:
        return self._watcher.directories()

    def _add_existing(self) -> None:
        wanted = [p for p in [self._root, *self._folders.values()] if p and os.path.isdir(p)]
        missing = [p for p in wanted if p not in self._watcher.directories()]
        if missing:
            self._watcher.addPaths(missing)

    @Slot(str)
    def _on_watcher_directory_changed(self, path: str) -> None:
        path = os.path.normpath(path)
        if path == self._root:
            # a folder may have been created, deleted or replaced: (re)watch and re-list them all
            self._add_existing()
            for timer in self._timers.values():
                timer.start()
            return
        for key, folder in self._folders.items():
            if folder == path:
                self._timers[key].start()
        if not os.path.isdir(path):
            self._add_existing()
