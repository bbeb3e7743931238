"""The one source of truth for stored models in the window: every change goes through it and every page
observes it, so an activation, a rename, a saved threshold, an import or a new model shows everywhere at once.

Pages never re-read the store on their own schedule; they connect to `changed` (and `active_changed`) and
re-read then. Changes made by other programs (`fanqc models activate`, a training run of another window)
are noticed through a file-system watch of the store folder and of the active model's metadata.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from fanqc_gui.core.models.model_store import ACTIVE_FILE, METADATA_FILE, ModelInfo, ModelStore

_COALESCE_MS = 150  # several file events of one save arrive together: re-read once


class ModelCatalogue(QObject):
    changed = Signal()  # the list, a model's metadata (name, threshold) or the active model changed
    active_changed = Signal(object)  # the active model's id (str) or None

    def __init__(self, store: ModelStore, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self._active_id = store.active_id()
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_files_changed)
        self._watcher.fileChanged.connect(self._on_files_changed)
        self._outside_change = QTimer(self, singleShot=True, interval=_COALESCE_MS)
        self._outside_change.timeout.connect(self.notify_changed)
        self._watch()

    # ---- reading (always the store's current state) -------------------------------------------------
    def models(self) -> list[ModelInfo]:
        """Every readable model, newest first."""
        return list(reversed(self.store.list()))

    def active_id(self) -> str | None:
        return self.store.active_id()

    def active(self) -> ModelInfo | None:
        return self.store.active()

    def get(self, ref: str | Path) -> ModelInfo:
        return self.store.get(ref)

    # ---- changing (each tells every observer) -------------------------------------------------------
    def activate(self, ref: str | Path) -> ModelInfo:
        info = self.store.activate(ref)
        self.notify_changed()
        return info

    def rename(self, ref: str | Path, name: str) -> ModelInfo:
        info = self.store.update_metadata(ref, name=name)
        self.notify_changed()
        return info

    def update_metadata(self, ref: str | Path, **changes) -> ModelInfo:
        info = self.store.update_metadata(ref, **changes)
        self.notify_changed()
        return info

    def delete(self, ref: str | Path) -> None:
        self.store.delete(ref)
        self.notify_changed()

    @Slot()
    def notify_changed(self) -> None:
        """Something changed the store (this window or another program): observers re-read it."""
        self._outside_change.stop()
        self._watch()
        self.changed.emit()
        active = self.store.active_id()
        if active != self._active_id:
            self._active_id = active
            self.active_changed.emit(active)

    # ---- outside changes ----------------------------------------------------------------------------
    def _watch(self) -> None:
        wanted = []
        root = self.store.root
        if root.is_dir():
            wanted.append(str(root))
            if (root / ACTIVE_FILE).is_file():
                wanted.append(str(root / ACTIVE_FILE))
            active = self.store.active()
            if active is not None:
                wanted.append(str(active.folder))
                wanted.append(str(active.folder / METADATA_FILE))
        stale = [p for p in self._watcher.files() + self._watcher.directories() if p not in wanted]
        if stale:
            self._watcher.removePaths(stale)
        new = [p for p in wanted if p not in self._watcher.files() + self._watcher.directories()]
        if new:
            self._watcher.addPaths(new)

    @Slot(str)
    def _on_files_changed(self, _path: str) -> None:
        self._outside_change.start()


def as_catalogue(models: ModelStore | ModelCatalogue, parent: QObject | None = None) -> ModelCatalogue:
    """Pages accept a catalogue (the app shares one) or, for a page on its own, a store."""
    return models if isinstance(models, ModelCatalogue) else ModelCatalogue(models, parent)
