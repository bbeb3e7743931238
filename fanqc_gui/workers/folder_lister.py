"""Folder listings (os.scandir + stat of every file) on a background thread, newest request per pane."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from fanqc_gui.core.dataset.folder_listing import scan_folder
from fanqc_gui.workers.job_thread import LatestJobThread


class FolderLister(QObject):
    folder_listed = Signal(str, object)  # key, FolderListing
    listing_failed = Signal(str, str, str)  # key, folder, reason

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = LatestJobThread(scan_folder, "fanqc-folder-lister")
        self._thread.result_ready.connect(self._on_thread_result_ready)
        self._thread.start()

    def list(self, key: str, folder: str) -> None:
        self._thread.submit(key, folder)

    def shutdown(self) -> None:
        self._thread.stop()

    @Slot(object, object, object)
    def _on_thread_result_ready(self, key, folder, result) -> None:
        if isinstance(result, Exception):
            self.listing_failed.emit(key, str(folder), str(result))
        else:
            self.folder_listed.emit(key, result)
