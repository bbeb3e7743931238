"""Python's cyclic garbage collector runs in whichever thread happens to allocate when a threshold is crossed.
If that is a worker thread and the garbage holds Qt objects of the GUI thread, they are destroyed from the
wrong thread and the process can crash (seen here: a segfault while a prediction thread collected). As
pyqtgraph's GarbageCollector does, automatic collection is switched off while the app runs and done on the GUI
thread from a timer instead."""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadGarbageCollector(QObject):
    def __init__(self, interval_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(interval_ms)

    def collect(self) -> None:
        """The generations whose counts passed their thresholds, youngest first (like automatic collection)."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self._threshold[generation]:
                break
            gc.collect(generation)

    def stop(self) -> None:
        """Back to automatic collection (after one full collection here)."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
