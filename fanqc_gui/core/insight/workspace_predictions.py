"""One model's predictions for every image of a workspace (GO, NG and inbox), as plain rows.

The insight page runs this in a worker; `bench/predict_workspace.py` times exactly this function. Scores
come from `Predictor.predict_paths` (the engine the station uses), so the page shows what the line would do.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fanqc_gui.core.dataset.scan import list_images
from fanqc_gui.core.dataset.workspace import GO, NG, Workspace
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelInfo

FOLDERS = ("GO", "NG", "inbox")
FOLDER_LABELS: dict[str, int | None] = {"GO": GO, "NG": NG, "inbox": None}


@dataclass
class ImagePrediction:
    """One image's prediction. `path` and `folder` change when the file is moved from the page."""

    path: str
    folder: str  # "GO", "NG" or "inbox": where the file is filed now (its label)
    p_ng: float | None  # None when the file could not be read
    error: str | None = None
    in_validation: bool = False  # one of the model's validation images
    mtime_ns: int = 0

    @property
    def label(self) -> int | None:
        return FOLDER_LABELS[self.folder]

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def verdict(self, threshold: float) -> str | None:
        if self.p_ng is None:
            return None
        return "NG" if self.p_ng >= threshold else "GO"

    def is_wrong(self, threshold: float) -> bool | None:
        """True when the verdict disagrees with the folder; None for inbox or unreadable images."""
        if self.label is None or self.p_ng is None:
            return None
        return (self.p_ng >= threshold) != (self.label == NG)


@dataclass
class WorkspacePredictions:
    model_id: str
    threshold: float  # the model's saved threshold at the time of the run
    rows: list[ImagePrediction] = field(default_factory=list)
    complete: bool = True  # False when cancelled: rows holds what was predicted until then
    seconds: float = 0.0
    backend: str = ""
    validation_missing: int = 0  # validation images listed in the metadata but not found in the workspace


def workspace_images(ws: Workspace) -> list[tuple[Path, str]]:
    """(path, folder) for every image directly in the GO, NG and inbox folders, sorted by name per folder."""
    dirs = {"GO": ws.go_dir, "NG": ws.ng_dir, "inbox": ws.inbox_dir}
    return [(p, folder) for folder in FOLDERS for p in list_images(dirs[folder])]


def validation_paths(info: ModelInfo, ws: Workspace) -> set[str]:
    """Absolute paths of the model's validation images (metadata `validation_files`) in this workspace."""
    out = set()
    for item in info.metadata.get("validation_files") or []:
        rel = item.get("path") if isinstance(item, dict) else None
        if isinstance(rel, str) and rel:
            p = Path(rel)
            out.add(os.path.normpath(str(p if p.is_absolute() else ws.root / p)))
    return out


def predict_workspace(ws: Workspace, predictor: Predictor, progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None, batch_size: int = 64) -> WorkspacePredictions:
    """Predict every image of the workspace with the predictor's model, in folder order."""
    t0 = time.perf_counter()
    images = workspace_images(ws)
    validation = validation_paths(predictor.info, ws)
    results = predictor.predict_paths([p for p, _ in images], batch_size=batch_size, progress=progress,
                                      should_stop=should_stop)
    rows = []
    for (path, folder), pred in zip(images, results):
        key = os.path.normpath(str(path))
        rows.append(ImagePrediction(str(path), folder, pred.p_ng, pred.error, key in validation, _mtime(path)))
    found = {os.path.normpath(r.path) for r in rows if r.in_validation}
    return WorkspacePredictions(
        model_id=predictor.info.id, threshold=predictor.threshold, rows=rows, complete=len(results) == len(images),
        seconds=time.perf_counter() - t0, backend=predictor.backend_name,
        validation_missing=len(validation - found) if len(results) == len(images) else 0)


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
