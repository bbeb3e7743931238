"""The Keras side of the insight page on one background thread: it loads the chosen model (and TensorFlow,
the first time) in that thread, keeps it there, and answers with numpy arrays:

* `show_model(info)`  -> `filters_ready(ModelFilters)`: the first convolution's kernels;
* `inspect(info, path, towards)` -> `image_ready(ImageInsight)`: the image, its Grad-CAM heatmap and the
  feature maps of every convolution; for an anomaly model instead its anomaly map (where the part differs
  from the good parts it learned), from the model the station runs (core.models.anomaly.heat_map; LiteRT,
  no TensorFlow needed).

Requests are "latest wins" per kind: clicking through the table quickly only computes the last image.
The Keras model object never leaves the thread (one model object per thread).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from fanqc_gui.core.imaging import decode_image, preprocess
from fanqc_gui.core.insight.explanations import ModelProbe, first_layer_kernels
from fanqc_gui.core.models.anomaly import is_anomaly_model
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.workers.job_thread import LatestJobThread


@dataclass(frozen=True)
class ModelFilters:
    model_id: str
    layer_name: str  # the first Conv2D's name (conv1, or conv2d for imported models)
    kernels: np.ndarray  # (n, kh, kw, in_ch)
    conv_layers: tuple[tuple[str, tuple], ...]  # (name, output shape HxWxC) of every Conv2D, in order


@dataclass(frozen=True)
class ImageInsight:
    model_id: str
    path: str
    bgr: np.ndarray  # the file as decoded (BGR uint8, its own size)
    p_ng: float  # the Keras model's P(NG) for this image
    towards: str  # "NG" or "GO": whose evidence the heatmap shows
    heatmap: np.ndarray  # float32 HxW at the model's input size, in [0, 1]
    feature_maps: tuple[tuple[str, np.ndarray], ...]  # (conv layer, HxWxC) in order
    input_size: tuple[int, int]  # (height, width) the model sees
    # An anomaly model's map instead of Grad-CAM (then heatmap is empty): rows x cols over the whole image,
    # scored like p_ng (>= the threshold: the part differs enough there to be NG).
    anomaly_map: np.ndarray | None = None

    @property
    def is_anomaly(self) -> bool:
        return self.anomaly_map is not None


@dataclass(frozen=True)
class _Request:
    kind: str  # "filters" or "image"
    info: ModelInfo
    path: str = ""
    towards: str | None = None


class _ModelHolder:
    """The loaded model and its probe. Touched only on the worker thread."""

    def __init__(self, store: ModelStore, report):
        self._store = store
        self._report = report
        self._key = None
        self.model = None
        self.probe: ModelProbe | None = None
        self._predictor_key = None
        self._predictor = None  # an anomaly model's Predictor (its LiteRT interpreter belongs to this thread)

    def get(self, info: ModelInfo):
        key = (str(info.folder), _mtime(info.keras_path), bool(info.metadata.get("invert_output", False)))
        if key != self._key:
            from fanqc_gui.core.tf_runtime import import_keras

            self.model = self.probe = None
            self._key = None  # a failed load must not leave the previous model's key behind
            self._report("Loading TensorFlow…")
            import_keras()
            self._report(f"Loading model {info.name}…")
            self.model = self._store.load_keras(info)
            self.probe = ModelProbe(self.model, invert=key[2])
            self._key = key
        return self.model, self.probe

    def predictor(self, info: ModelInfo):
        from fanqc_gui.core.models.inference import Predictor

        key = (str(info.folder), _mtime(info.tflite_path), _mtime(info.keras_path))
        if key != self._predictor_key:
            self._predictor = self._predictor_key = None
            self._report(f"Loading model {info.name}…")
            self._predictor = Predictor(info, store=self._store)
            self._predictor_key = key
        return self._predictor

    def run(self, req: _Request):
        if is_anomaly_model(req.info.metadata):
            return self._anomaly_insight(req)
        model, probe = self.get(req.info)
        if req.kind == "filters":
            convs = [(name, tuple(int(v) for v in model.get_layer(name).output.shape[1:]))
                     if _single_output(model.get_layer(name)) else (name, ()) for name in probe.layer_names]
            return ModelFilters(req.info.id, probe.layer_names[0], first_layer_kernels(model), tuple(convs))
        self._report(f"Explaining {Path(req.path).name}…")
        bgr = decode_image(req.path)
        x = preprocess(bgr, req.info.preprocess_spec)
        result = probe.explain(x, towards=req.towards, threshold=req.info.threshold)
        return ImageInsight(req.info.id, req.path, bgr, result.p_ng, result.towards, result.heatmap,
                            tuple(result.feature_maps), (x.shape[0], x.shape[1]))

    def _anomaly_insight(self, req: _Request) -> ImageInsight:
        from fanqc_gui.core.models.anomaly.heat_map import explain

        if req.kind == "filters":  # the page explains instead; a request is answered all the same
            raise ValueError("an anomaly model learns no filters: its backbone is ImageNet's, frozen")
        predictor = self.predictor(req.info)
        self._report(f"Mapping {Path(req.path).name}…")
        bgr = decode_image(req.path)
        view = explain(predictor, bgr)
        spec = req.info.preprocess_spec
        return ImageInsight(req.info.id, req.path, bgr, view.score, "NG", np.zeros((0, 0), np.float32), (),
                            (spec.height, spec.width), anomaly_map=np.asarray(view.amap, np.float32))


class InsightWorker(QObject):
    filters_ready = Signal(object)  # ModelFilters
    image_ready = Signal(object)  # ImageInsight
    insight_failed = Signal(str, str)  # "filters" or "image", reason
    status_changed = Signal(str)  # what the thread is doing ("" when idle)

    def __init__(self, store: ModelStore, parent: QObject | None = None):
        super().__init__(parent)
        self._holder = _ModelHolder(store, self.status_changed.emit)
        self._thread: LatestJobThread | None = None
        self._closed = False

    def show_model(self, info: ModelInfo) -> None:
        self._submit(_Request("filters", info))

    def inspect(self, info: ModelInfo, path: str, towards: str | None = None) -> None:
        self._submit(_Request("image", info, str(path), towards))

    def is_idle(self) -> bool:
        return self._thread is None or self._thread.is_idle()

    def shutdown(self) -> None:
        """Drop queued requests, wait for the one in progress, end the thread. Later requests are ignored."""
        self._closed = True
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def _submit(self, req: _Request) -> None:
        if self._closed:
            return
        if self._thread is None:
            self._thread = LatestJobThread(self._holder.run, "fanqc-insight")
            self._thread.result_ready.connect(self._on_thread_result_ready)
            self._thread.start()
        self._thread.submit(req.kind, req)

    @Slot(object, object, object)
    def _on_thread_result_ready(self, kind, _req, result) -> None:
        if self._closed:
            return
        if isinstance(result, Exception):
            self.insight_failed.emit(kind, _describe(result))
        elif kind == "filters":
            self.filters_ready.emit(result)
        else:
            self.image_ready.emit(result)
        if self.is_idle():
            self.status_changed.emit("")


def _single_output(layer) -> bool:
    try:
        layer.output  # noqa: B018 - reading the property is the check
    except (AttributeError, ValueError):
        return False
    return True


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    if isinstance(exc, (ValueError, OSError, RuntimeError)) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no details'}"
