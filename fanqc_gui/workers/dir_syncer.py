"""Makes renames durable (fsync of the folders) on a background thread, so a keyboard move never waits
for the disk. Requests for the same folder coalesce; everything still queued is flushed on shutdown."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject

from fanqc_gui.core.atomic_io import fsync_dir
from fanqc_gui.workers.job_thread import LatestJobThread


class DirSyncer(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = LatestJobThread(fsync_dir, "fanqc-dir-syncer")
        self._thread.start()

    def sync(self, folders: list[Path]) -> None:
        """Queue an fsync of each folder (the journal's sync_dirs callback)."""
        for folder in folders:
            self._thread.submit(os.fspath(folder), folder)

    def shutdown(self) -> None:
        self._thread.stop(finish_pending=True)
