"""Creates the demo workspace on a background thread, so the window is on screen meanwhile."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from fanqc_gui.core.dataset.demo_data import generate_demo_workspace


class DemoBuilder(QThread):
    demo_ready = Signal(str)  # workspace root
    demo_failed = Signal(str)  # reason

    def __init__(self, root: str | Path, parent=None, **options):
        # With a parent, Qt ties the thread's life to its owner's (the owner waits for it when it closes).
        super().__init__(parent)
        self.setObjectName("fanqc-demo-builder")
        self._root = Path(root)
        self._options = options

    def run(self) -> None:
        # Build next to the final place and rename when complete: an interrupted first run leaves no
        # half-filled demo workspace behind that later runs would open.
        partial = self._root.with_name(self._root.name + ".partial")
        try:
            shutil.rmtree(partial, ignore_errors=True)  # our own leftover from an interrupted run
            partial.parent.mkdir(parents=True, exist_ok=True)
            generate_demo_workspace(partial, **self._options)
            os.rename(partial, self._root)
        except Exception as exc:  # reported in the status bar
            self.demo_failed.emit(f"could not create the demo workspace in {self._root}: {exc}")
        else:
            self.demo_ready.emit(str(self._root))
