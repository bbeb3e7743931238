"""Creates the demo workspace on a background thread, so the window is on screen meanwhile."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import Signal

from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
from fanqc_gui.workers.run_once import RunOnceWorker


class DemoBuilder(RunOnceWorker):
    demo_ready = Signal(str)  # workspace root
    demo_failed = Signal(str)  # reason

    def __init__(self, root: str | Path, **options):
        super().__init__("fanqc-demo-builder")  # its owner waits for it when the app closes
        self._root = Path(root)
        self._options = options

    def work(self) -> None:
        # Build next to the final place and rename when complete: an interrupted first run leaves no
        # half-filled demo workspace behind that later runs would open.
        partial = self._root.with_name(self._root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # our own leftover from an interrupted run
        partial.parent.mkdir(parents=True, exist_ok=True)
        generate_demo_workspace(partial, **self._options)
        os.rename(partial, self._root)
        self.demo_ready.emit(str(self._root))

    def describe(self, exc: Exception) -> str:
        return f"could not create the demo workspace in {self._root}: {exc}"

    def failed(self, message: str) -> None:
        self.demo_failed.emit(message)  # shown in the status bar
