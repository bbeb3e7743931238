"""Scans a workspace (reads and hashes every class image) on a background thread; newest request wins."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from fanqc_gui.core.dataset.scan import scan_workspace
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.workers.job_thread import LatestJobThread


class DatasetScanner(QObject):
    scan_ready = Signal(object)  # core.dataset.scan.ScanReport
    scan_failed = Signal(str)  # reason

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: LatestJobThread | None = None
        self._closed = False

    def scan(self, workspace: Workspace) -> None:
        if self._closed:
            return
        if self._thread is None:
            self._thread = LatestJobThread(scan_workspace, "fanqc-dataset-scanner")
            self._thread.result_ready.connect(self._on_thread_result_ready)
            self._thread.start()
        self._thread.submit("scan", workspace)

    def is_scanning(self) -> bool:
        return self._thread is not None and not self._thread.is_idle()

    def shutdown(self) -> None:
        """Wait for the scan in progress and end the thread; later requests are ignored."""
        self._closed = True
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    @Slot(object, object, object)
    def _on_thread_result_ready(self, _key, workspace: Workspace, result) -> None:
        if isinstance(result, Exception):
            self.scan_failed.emit(f"cannot scan {workspace.root}: {result}")
        else:
            self.scan_ready.emit(result)
