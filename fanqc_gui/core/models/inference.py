"""Inference for files, folders and camera frames, with a fast backend.

LiteRT (`ai-edge-litert`) runs the exported model.tflite; where it is missing, a compiled tf.function
over the Keras model is used. `model.predict` (tens of ms of overhead per call) is never used per image.
A Predictor (and its interpreter) belongs to one thread.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from fanqc_gui.core.image_files import SkippedFile, is_image_file, list_image_files
from fanqc_gui.core.imaging import ImageError, decode_image, preprocess
from fanqc_gui.core.models.backends import KerasBackend, LiteRTBackend
from fanqc_gui.core.models.fast_model import FAST_TFLITE_FILE, fast_model_usable
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, ModelStoreError


@dataclass(frozen=True)
class Prediction:
    path: str
    p_ng: float | None
    verdict: str | None  # "GO" / "NG", None when the file could not be read
    error: str | None = None

    def to_dict(self) -> dict:
        d = {"path": self.path, "p_ng": self.p_ng, "verdict": self.verdict}
        if self.error:
            d["error"] = self.error
        return d


class Predictor:
    def __init__(self, info: ModelInfo, backend: str = "auto", num_threads: int | None = None,
                 keras_model=None, store: ModelStore | None = None):
        self.info = info
        self.spec = info.preprocess_spec
        self.threshold = info.threshold
        self._invert = bool(info.metadata.get("invert_output", False))
        if backend == "station":  # the verified fast model when it may judge at this threshold, else auto
            fast = info.folder / FAST_TFLITE_FILE
            if fast.is_file() and _litert_available() and fast_model_usable(info.metadata, info.threshold):
                try:
                    self._backend = LiteRTBackend(fast, num_threads)
                    self._backend.name = "litert-int8"
                    return
                except ModelStoreError:  # a damaged fast file: the float model judges instead
                    pass
            backend = "auto"
        if backend == "auto":
            backend = "litert" if info.tflite_path.is_file() and _litert_available() else "keras"
        if backend == "litert":
            if not info.tflite_path.is_file():
                raise ModelStoreError(f"{info.id} has no model.tflite; run `fanqc export {info.id}`")
            self._backend = LiteRTBackend(info.tflite_path, num_threads)
        elif backend == "keras":
            model = keras_model if keras_model is not None else (store or ModelStore(info.folder.parent)
                                                                 ).load_keras(info)
            self._backend = KerasBackend(model)
        else:
            raise ValueError(f"unknown backend {backend!r} (auto, litert, keras)")

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def is_anomaly(self) -> bool:
        """An anomaly model (trained on good parts only): its score is normalised so that the stored
        threshold works like a classifier's, and each call also gives a map of where the part differs."""
        return self.info.metadata.get("kind") == "anomaly"

    def last_maps(self) -> np.ndarray | None:
        """The anomaly maps (N x rows x cols, scored like P(NG): >= threshold is NG there) of the last
        p_ng_batch call; None for a classifier."""
        return getattr(self._backend, "last_maps", None)

    def predict_frame_with_map(self, bgr: np.ndarray) -> tuple[float, np.ndarray | None]:
        """(score, anomaly map or None) for one BGR uint8 image: one model call gives both."""
        p = self.predict_frame(bgr)
        maps = self.last_maps()
        return p, (maps[0] if maps is not None else None)

    def verdict(self, p_ng: float) -> str:
        return "NG" if p_ng >= self.threshold else "GO"

    def p_ng_batch(self, batch: np.ndarray) -> np.ndarray:
        """P(NG) for preprocessed float32 NxHxWx3 input."""
        out = self._backend(batch)
        return 1.0 - out if self._invert else out

    def predict_frame(self, bgr: np.ndarray) -> float:
        """P(NG) for one BGR uint8 image (a camera frame or crop)."""
        return float(self.p_ng_batch(preprocess(bgr, self.spec)[None])[0])

    def predict_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        return self.p_ng_batch(np.stack([preprocess(f, self.spec) for f in frames]))

    def predict_paths(self, paths: Iterable[str | Path], batch_size: int = 64,
                      progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> list[Prediction]:
        """Predictions in input order; unreadable files come back with an error instead of a score."""
        paths = [Path(p) for p in paths]
        results: list[Prediction] = []
        limit = self.info.metadata.get("max_batch")  # an anomaly model's intermediate maps grow with the batch
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:
            batch_size = min(batch_size, limit)

        def load(path: Path):
            try:
                return preprocess(decode_image(path), self.spec)
            except ImageError as exc:
                return str(exc)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for start in range(0, len(paths), batch_size):
                if should_stop and should_stop():
                    break
                chunk = paths[start:start + batch_size]
                loaded = list(pool.map(load, chunk))
                good = [i for i, x in enumerate(loaded) if not isinstance(x, str)]
                scores = self.p_ng_batch(np.stack([loaded[i] for i in good])) if good else []
                score_of = dict(zip(good, scores))
                for i, path in enumerate(chunk):
                    if i in score_of:
                        p = float(score_of[i])
                        results.append(Prediction(str(path), p, self.verdict(p)))
                    else:
                        results.append(Prediction(str(path), None, None, loaded[i]))
                if progress:
                    progress(len(results), len(paths))
        return results


def expand_paths(items: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to their images, and class folders one level down too."""
    return collect_images(items)[0]


def collect_images(items: Iterable[str | Path]) -> tuple[list[Path], list[SkippedFile]]:
    """(files as given and the images of the folders given, and their class folders one level down; the
    image-named entries of those folders that cannot be read -- links to nothing or in a loop, folders, pipes,
    hidden files -- each with its reason), so that a command names every file it did not judge."""
    out: list[Path] = []
    skipped: list[SkippedFile] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            for folder in [p] + _class_folders(p):
                found, left = list_image_files(folder)
                out += found
                skipped += left
        elif p.exists():
            out.append(p)
        elif p.is_symlink():  # a link to nothing, or in a loop: named like the files of a folder
            skipped.append(SkippedFile(p, "broken link or symbolic link loop; skipped"))
        else:
            raise FileNotFoundError(f"not found: {p}")
    return out, skipped


def _class_folders(folder: Path) -> list[Path]:
    try:
        return sorted(d for d in folder.iterdir() if not d.name.startswith(".") and d.is_dir()
                      and not is_image_file(d.name))  # a folder named x.jpg is reported, not entered
    except OSError:
        return []


def _litert_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None
