"""Helpers shared by the offscreen screenshot scripts: spin the event loop until a condition, save a grab
atomically."""
from __future__ import annotations

import os
import time
from pathlib import Path


def wait_until(app, condition, timeout_s: float) -> bool:
    """Process events until condition() is true (True) or timeout_s passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def save_grab(widget, target: Path) -> Path:
    """widget.grab() written as PNG through a temp file, so a failed write leaves no half picture."""
    tmp = target.with_name(target.name + ".tmp")
    if not widget.grab().save(str(tmp), "PNG"):
        raise RuntimeError(f"could not write {tmp}")
    os.replace(tmp, target)
    return target
