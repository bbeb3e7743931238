"""Notices, cheaply, when the station's model should change: another model activated, or a new threshold.

`poll()` looks at most every `interval_s` at the stat of active.json and of the current model's
metadata.json / model.tflite (mtime, size and inode: an atomic replace always changes the inode, even
within the file system's timestamp resolution) and only reads files when one of those changed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.models.model_store import ACTIVE_FILE, METADATA_FILE, ModelInfo, ModelStore, ModelStoreError


class StationError(FanQCError, RuntimeError):
    """The station cannot run (no model, bad settings); the message says what to do."""


def _stat_key(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass(frozen=True)
class ModelChange:
    info: ModelInfo
    reload: bool   # True: a different model (or new weights) - build a new predictor; False: metadata only


class ModelWatcher:
    """Follows the active model (model_ref None) or one pinned model."""

    def __init__(self, store: ModelStore, model_ref: str | Path | None = None, interval_s: float = 0.5,
                 clock=time.monotonic):
        self.store = store
        self.model_ref = model_ref
        self.interval_s = interval_s
        self._clock = clock
        self._next_poll = 0.0
        self.info = self._resolve()
        self._keys = self._stat_keys(self.info)
        self._loaded_tflite = self._keys[2]

    def _resolve(self) -> ModelInfo:
        if self.model_ref is not None:
            return self.store.get(self.model_ref)
        info = self.store.active()
        if info is None:
            raise StationError(f"no active model in {self.store.root}: activate one on the Models page or "
                               f"with `fanqc models activate MODEL`, or pass --model")
        return info

    def _stat_keys(self, info: ModelInfo) -> tuple:
        active = _stat_key(self.store.root / ACTIVE_FILE) if self.model_ref is None else None
        return active, _stat_key(info.folder / METADATA_FILE), _stat_key(info.tflite_path)

    def poll(self, force: bool = False) -> ModelChange | None:
        """A change since the last poll, or None. Never raises: a broken new model keeps the old one."""
        now = self._clock()
        if not force and now < self._next_poll:
            return None
        self._next_poll = now + self.interval_s
        keys = self._stat_keys(self.info)
        if keys == self._keys:
            return None
        self._keys = keys
        try:
            new = self._resolve()
        except (StationError, ModelStoreError, OSError, ValueError):
            return None  # active.json mid-change or model removed: keep judging with the current model
        old = self.info
        new_weights = new.folder != old.folder or _stat_key(new.tflite_path) != self._loaded_tflite
        if not new_weights and new.metadata == old.metadata:
            return None
        reload = new_weights or _model_defining(new.metadata) != _model_defining(old.metadata)
        self.info = new
        self._keys = self._stat_keys(new)
        return ModelChange(new, reload)

    def accept(self, info: ModelInfo) -> None:
        """Record the model now in use (after a predictor was built for it, or kept after a failure)."""
        self.info = info
        self._keys = self._stat_keys(info)
        self._loaded_tflite = self._keys[2]


_METADATA_ONLY = {"threshold", "threshold_rule", "name", "notes", "activated"}


def _model_defining(metadata: dict) -> dict:
    """The metadata that changes what the network computes (everything but threshold, name, notes)."""
    return {k: v for k, v in metadata.items() if k not in _METADATA_ONLY}
