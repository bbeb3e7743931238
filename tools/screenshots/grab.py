"""Saving a widget's picture atomically, for the offscreen screenshot scripts."""
from __future__ import annotations

import os
from pathlib import Path


def save_grab(widget, target: Path) -> Path:
    """widget.grab() written as PNG through a temp file, so a failed write leaves no half picture."""
    tmp = target.with_name(target.name + ".tmp")
    if not widget.grab().save(str(tmp), "PNG"):
        raise RuntimeError(f"could not write {tmp}")
    os.replace(tmp, target)
    return target
