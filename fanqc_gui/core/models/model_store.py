"""The model store: one folder per model (model.keras, model.tflite, metadata.json) and an active mark.

A model is written into a hidden temp folder and renamed into place, so an interrupted save never leaves a
half model and never touches another model. Keras files are loaded in safe mode.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fanqc_gui.core.atomic_io import fsync_dir, write_bytes_atomic, write_json_atomic
from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.errors import ModelStoreError  # noqa: F401 - its home is errors.py
from fanqc_gui.core.imaging import PreprocessSpec
from fanqc_gui.core.models.model_metadata import metadata_problem
from fanqc_gui.core.models.threshold_choice import ThresholdChoice

METADATA_SCHEMA = 1
METADATA_FILE = "metadata.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
ACTIVE_FILE = "active.json"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    folder: Path
    metadata: dict

    @property
    def name(self) -> str:
        return self.metadata.get("name") or self.id

    @property
    def threshold(self) -> float:
        return float(self.metadata.get("threshold", 0.5))

    @property
    def preprocess_spec(self) -> PreprocessSpec:
        return PreprocessSpec.from_dict(self.metadata["preprocessing"])

    @property
    def mapping(self) -> ClassMapping:
        return ClassMapping.from_dict(self.metadata.get("class_mapping", {}))

    @property
    def keras_path(self) -> Path:
        return self.folder / KERAS_FILE

    @property
    def tflite_path(self) -> Path:
        return self.folder / TFLITE_FILE

    @property
    def created(self) -> str:
        return self.metadata.get("created", "")

    @property
    def threshold_choice(self) -> ThresholdChoice | None:
        """How training chose the threshold (threshold_choice.py); None for models saved before that record."""
        record = self.metadata.get("threshold_choice")
        try:
            return ThresholdChoice.from_dict(record) if isinstance(record, dict) else None
        except (TypeError, ValueError):
            return None

    def readiness(self) -> tuple[bool | None, str]:
        """(ready for the station?, why in words). None: unknown (no record: imported, or saved before FanQC
        checked thresholds), or a supervisor has since set another threshold, which is their decision."""
        choice = self.threshold_choice
        if choice is None:
            imported = self.metadata.get("source") == "imported"
            source = "imported" if imported else "saved before FanQC checked thresholds"
            return None, f"readiness unknown ({source}): check it on labelled images before the station uses it"
        if abs(self.threshold - choice.threshold) > 1e-9:
            return None, (f"threshold {self.threshold:.3f} set by a supervisor (training chose {choice.threshold:.3f}: "
                          f"{choice.reason})")
        return choice.ready, choice.reason

    def summary(self) -> dict:
        val = self.metadata.get("validation", {})
        counts = self.metadata.get("dataset", {}).get("counts", {})
        ready, verdict = self.readiness()
        choice = self.threshold_choice
        return {
            "id": self.id, "name": self.name, "kind": self.metadata.get("kind", "classifier"),
            "folder": str(self.folder), "created": self.created,
            "source": self.metadata.get("source", "trained"), "threshold": self.threshold,
            "val_accuracy": val.get("accuracy"), "ng_recall": val.get("ng_recall"),
            "false_reject_rate": val.get("false_reject_rate"),
            "ready": ready, "verdict": verdict,
            "threshold_scores": ({"scores": choice.scores, "images": choice.n_go + choice.n_ng, "NG": choice.n_ng}
                                 if choice else None),
            "images": counts, "has_tflite": self.tflite_path.is_file(),
            "class_mapping": self.metadata.get("class_mapping", {}),
        }


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


class ModelStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    # ---- reading -------------------------------------------------------------------------------------
    def list(self) -> list[ModelInfo]:
        """Every usable model (a damaged one is left out: see `damaged`), oldest first."""
        return self._scan()[0]

    def damaged(self) -> list[tuple[str, str]]:
        """(folder name, reason) of each model folder that cannot be used: unreadable or invalid metadata, or a
        link (a link would let one model be reached under two ids, and the active one be deleted)."""
        return self._scan()[1]

    def _scan(self) -> tuple[list[ModelInfo], list[tuple[str, str]]]:
        if not self.root.is_dir():
            return [], []
        infos, damaged = [], []
        try:
            entries = sorted(self.root.iterdir())
        except OSError as exc:
            return [], [(str(self.root), f"cannot list the store: {exc.strerror or exc}")]
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                damaged.append((entry.name, "a link, not a model folder; FanQC uses only folders stored here"))
                continue
            if not (entry / METADATA_FILE).is_file():
                continue
            try:
                infos.append(self._read(entry))
            except ModelStoreError as exc:
                damaged.append((entry.name, str(exc)))
        return sorted(infos, key=lambda i: (i.created, i.id)), damaged

    def get(self, ref: str | Path) -> ModelInfo:
        """A model by id (from `list`) or by folder path."""
        ref_path = Path(ref).expanduser()
        in_store = self.root / str(ref)
        # A bare id means the store's model, even if the current folder happens to hold one of that name.
        is_bare_id = isinstance(ref, str) and "/" not in ref and "\\" not in ref
        if is_bare_id and in_store.is_symlink():
            raise ModelStoreError(f"'{ref}' in {self.root} is a link, not a model folder; use the model's own id")
        if is_bare_id and (in_store / METADATA_FILE).is_file():
            folder = in_store
        else:
            folder = ref_path if (ref_path / METADATA_FILE).is_file() else in_store
        if not (folder / METADATA_FILE).is_file():
            if ref_path.is_file():
                raise ModelStoreError(f"{ref} is a file; give a model folder or id (import .h5 files with "
                                      f"`fanqc import-model`)")
            raise ModelStoreError(f"no model '{ref}' in {self.root} (see `fanqc models`)")
        return self._read(folder)

    def _read(self, folder: Path) -> ModelInfo:
        try:
            meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelStoreError(f"cannot read {folder / METADATA_FILE}: {exc}") from None
        if (problem := metadata_problem(meta)) is not None:
            raise ModelStoreError(f"{folder / METADATA_FILE}: {problem}")
        if meta.get("schema", 0) > METADATA_SCHEMA:
            raise ModelStoreError(f"{folder.name} was saved by a newer FanQC (schema {meta['schema']})")
        resolved = folder.resolve()
        # The id is the real folder's name: a link to a model never becomes a second id for it.
        return ModelInfo(id=resolved.name, folder=resolved, metadata=meta)

    def _stored(self, ref: str | Path) -> ModelInfo:
        """A model of this store, for changing it: a folder elsewhere (`models rename /some/path`) is refused."""
        info = self.get(ref)
        if info.folder.parent != self.root.resolve():
            raise ModelStoreError(f"{info.folder} is not in the model store {self.root}; only stored models are "
                                  f"changed")
        return info

    def active(self) -> ModelInfo | None:
        try:
            ref = json.loads((self.root / ACTIVE_FILE).read_text(encoding="utf-8"))["model"]
            return self.get(ref)
        except (OSError, ValueError, KeyError, TypeError, ModelStoreError):
            return None

    def active_id(self) -> str | None:
        info = self.active()
        return info.id if info else None

    # ---- writing -------------------------------------------------------------------------------------
    def new_id(self, prefix: str = "") -> str:
        """A free id (creation time, -2, -3... on a clash). Only `reserve_id` makes it ours."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{prefix}{stamp}"
        candidate, n = base, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def reserve_id(self, model_id: str | None = None) -> str:
        """Claim an id by creating its (empty) folder exclusively: two trainings that finish in the same second
        (two windows, two `fanqc train`) get two ids instead of one overwriting or failing on the other. An
        empty folder has no metadata, so listings skip it until the model is renamed into it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if model_id is not None:
            os.mkdir(self.root / model_id)  # FileExistsError: the caller chose a taken id
            return model_id
        while True:
            candidate = self.new_id()
            try:
                os.mkdir(self.root / candidate)
                return candidate
            except FileExistsError:
                continue  # another saver took it between new_id and mkdir

    def save(self, keras_model, metadata: dict, tflite_bytes: bytes | None, model_id: str | None = None,
             extra_files: dict[str, bytes] | None = None) -> ModelInfo:
        """Write a new model folder atomically: temp folder, fsync, rename. extra_files: more files of the
        model (e.g. the station's fast model), written into the same folder before the rename."""
        self._remove_abandoned_saves()
        try:
            model_id = self.reserve_id(model_id)
        except FileExistsError:
            raise ModelStoreError(f"a model '{model_id}' already exists in {self.root}") from None
        metadata = {**metadata, "schema": METADATA_SCHEMA, "id": model_id}
        metadata.setdefault("created", now_iso())
        metadata.setdefault("name", model_id)
        tmp = self.root / f".saving-{model_id}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            keras_model.save(tmp / KERAS_FILE)
            if tflite_bytes is not None:
                write_bytes_atomic(tmp / TFLITE_FILE, tflite_bytes)
            for name, data in (extra_files or {}).items():
                write_bytes_atomic(tmp / name, data)
            write_json_atomic(tmp / METADATA_FILE, metadata)
            _fsync_file(tmp / KERAS_FILE)
            os.rename(tmp, self.root / model_id)  # replaces the reserved empty folder in one step (POSIX)
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.rmdir(self.root / model_id)  # our reservation, still empty
            raise
        return self.get(model_id)

    def _remove_abandoned_saves(self) -> None:
        """Temporary folders of saves whose process was killed (`.saving-ID-PID`); a live save is left alone."""
        for entry in self.root.glob(".saving-*"):
            pid = entry.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in self.root.glob(".deleting-*"):  # a delete interrupted after its atomic rename
            shutil.rmtree(entry, ignore_errors=True)

    def update_metadata(self, ref: str | Path, **changes) -> ModelInfo:
        info = self._stored(ref)
        if (problem := metadata_problem({**info.metadata, **changes})) is not None:
            raise ModelStoreError(f"not saved: {problem}")
        write_json_atomic(info.folder / METADATA_FILE, {**info.metadata, **changes})
        return self.get(info.folder)

    def write_tflite(self, ref: str | Path, tflite_bytes: bytes) -> ModelInfo:
        info = self._stored(ref)
        write_bytes_atomic(info.tflite_path, tflite_bytes)
        return info

    def activate(self, ref: str | Path) -> ModelInfo:
        info = self.get(ref)
        if info.folder.parent != self.root.resolve():
            raise ModelStoreError(f"{info.folder} is not in the model store {self.root}")
        write_json_atomic(self.root / ACTIVE_FILE, {"model": info.id, "activated": now_iso()})
        return info

    def delete(self, ref: str | Path) -> None:
        """Delete a model folder (callers confirm with the user first). The active model is refused."""
        info = self.get(ref)
        if info.folder.parent != self.root.resolve():
            raise ModelStoreError(f"{info.folder} is not in the model store {self.root}; only stored models "
                                  f"are deleted")
        if info.id == self.active_id():
            raise ModelStoreError(f"{info.id} is the active model; activate another model before deleting it")
        doomed = self.root / f".deleting-{info.id}-{uuid.uuid4().hex[:8]}"
        os.rename(info.folder, doomed)  # atomic: the model disappears from listings at once
        shutil.rmtree(doomed, ignore_errors=True)

    # ---- loading -------------------------------------------------------------------------------------
    def load_keras(self, info: ModelInfo):
        from fanqc_gui.core.tf_runtime import import_keras

        keras = import_keras()
        if not info.keras_path.is_file():
            raise ModelStoreError(f"{info.id} has no {KERAS_FILE} (it can only run through {TFLITE_FILE})")
        if info.metadata.get("kind") == "anomaly":
            from fanqc_gui.core.models.anomaly import layers  # noqa: F401 - registers the anomaly layers with Keras
        try:
            return keras.saving.load_model(info.keras_path, safe_mode=True, compile=False)
        except Exception as exc:  # Keras raises many types for damaged files
            raise ModelStoreError(f"cannot load {info.keras_path}: {_first_line(exc)}") from None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: keep its folder
    return True


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
