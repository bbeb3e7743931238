"""Shared material for the camera-station tests: one small trained model and one demo video per session,
a fake physical camera (the only fake), and a deliberately slow predictor.

Importable from every test folder because pytest puts tests/ on sys.path for tests/conftest.py.
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelStore

VIDEO_PARTS = 12
FRAMES_PER_PART = 4
PART_ROI = (220, 140, 200, 200)  # where write_demo_video puts the part in a 640x480 frame (+-3 px jitter)
_cache: dict = {}
_lock = threading.RLock()


def trained_model(tmp_path_factory, demo_workspace_template) -> tuple[Path, str]:
    """(model store folder, model id) of a tiny model trained once per session; copy before changing it."""
    with _lock:
        if "model" not in _cache:
            from fanqc_gui.core.dataset.workspace import open_workspace
            from fanqc_gui.core.training.trainer import TrainOptions, train

            base = tmp_path_factory.mktemp("station-model")
            shutil.copytree(demo_workspace_template, base / "ws")
            store = ModelStore(base / "models")
            result = train(open_workspace(base / "ws"), store, TrainOptions(preset="reference",
                                                                            image_size=32, epochs=2))
            assert result.model is not None and result.model.tflite_path.is_file()
            _cache["model"] = (store.root, result.model.id)
        return _cache["model"]


def store_with_active_model(tmp_path_factory, demo_workspace_template, dest: Path) -> ModelStore:
    """A private copy of the trained store under dest, with the model active. Its threshold is the median
    P(NG) of the demo video's parts, so the video gives both verdicts however well the tiny model trained."""
    root, model_id = trained_model(tmp_path_factory, demo_workspace_template)
    shutil.copytree(root, dest)
    store = ModelStore(dest)
    store.activate(model_id)
    with _lock:
        if "median" not in _cache:
            path, _ = demo_video(tmp_path_factory)
            predictor = Predictor(store.active(), backend="litert", num_threads=1)
            x, y, w, h = PART_ROI
            scores = sorted(predictor.predict_frame(f[y:y + h, x:x + w]) for f in video_frames(path))
            _cache["median"] = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    store.update_metadata(model_id, threshold=_cache["median"])
    return store


def set_threshold(store: ModelStore, threshold: float) -> None:
    """What a supervisor does on the Models page (or `fanqc evaluate --save-threshold`)."""
    store.update_metadata(store.active_id(), threshold=threshold)


def demo_video(tmp_path_factory) -> tuple[Path, list]:
    """A 640x480 MJPG .avi of demo parts on a conveyor, and the defect of each part (None = GO)."""
    with _lock:
        if "video" not in _cache:
            from fanqc_gui.core.dataset.demo_data import write_demo_video

            path = tmp_path_factory.mktemp("station-video") / "conveyor.avi"
            truth = write_demo_video(path, parts=VIDEO_PARTS, seed=7, frames_per_part=FRAMES_PER_PART)
            _cache["video"] = (path, truth)
        return _cache["video"]


def video_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


class FakeCamera:
    """Stands in for cv2.VideoCapture on a physical camera: frames at `fps` in real time (a read waits
    for the next frame, like a driver), and it can be unplugged and plugged in again."""

    instances: list["FakeCamera"] = []

    def __init__(self, frames: list[np.ndarray], fps: float = 200.0, plugged: threading.Event | None = None,
                 fail_after: int | None = None):
        self.frames, self.fps = frames, fps
        self.plugged = plugged
        self.fail_after = fail_after
        self.served = 0
        self.opened = plugged is None or plugged.is_set()
        self._next = time.monotonic()
        FakeCamera.instances.append(self)

    @classmethod
    def factory(cls, frames, **kwargs):
        """A capture_factory for camera_sources: every open makes a new FakeCamera."""
        def make(index, api=None, params=None):
            return cls(frames, **kwargs)
        return make

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        if not self.opened or (self.plugged is not None and not self.plugged.is_set()):
            return False, None
        if self.fail_after is not None and self.served >= self.fail_after:
            return False, None
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        frame = self.frames[self.served % len(self.frames)]
        self.served += 1
        return True, frame.copy()

    def get(self, prop) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop, value) -> bool:
        return False

    def release(self) -> None:
        self.opened = False


class SlowPredictor(Predictor):
    """The real model, plus `delay_s` of extra work per call (a big model on a small PC)."""

    delay_s = 0.05

    def p_ng_batch(self, batch):
        time.sleep(self.delay_s)
        return super().p_ng_batch(batch)


def slow_factory(delay_s: float):
    def make(info):
        p = SlowPredictor(info, backend="litert", num_threads=1)
        p.delay_s = delay_s
        return p
    return make
