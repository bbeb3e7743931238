"""The two ways to run a model on preprocessed images: LiteRT (model.tflite, the fast path, no
TensorFlow needed) and Keras (model.keras)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fanqc_gui.core.errors import ModelStoreError


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


class LiteRTBackend:
    name = "litert"

    def __init__(self, tflite_path: Path | None, num_threads: int | None = None, content: bytes | None = None):
        """A model file, or its bytes in `content` (a model not yet saved)."""
        from ai_edge_litert.interpreter import Interpreter

        from fanqc_gui.core.tf_runtime import quiet_native_output

        source = {"model_content": content} if content is not None else {"model_path": str(tflite_path)}
        where = tflite_path or "the TFLite model"
        try:
            with quiet_native_output():  # LiteRT announces its XNNPACK delegate on stderr
                self._interp = Interpreter(**source, num_threads=num_threads or default_threads())
            inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
            # One output (a score, or features); or an anomaly model's score (one value per image) and map
            # (rows x cols per image), found by their shapes: TFLite does not keep Keras' output order.
            maps = [o for o in outputs if len(o["shape"]) == 3] if len(outputs) == 2 else []
            scores = [o for o in outputs if len(o["shape"]) == 2 and o["shape"][1] == 1] if maps else outputs
            if len(inputs) != 1 or len(scores) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
                raise ValueError("not a FanQC image model (one RGB image in, one score out)")
            self._in, self._out = inputs[0], scores[0]
            self._map = maps[0] if maps else None
            self.last_maps: np.ndarray | None = None  # the anomaly maps of the last call (anomaly models)
            self._batch = 0
            self._shape = tuple(int(v) for v in self._in["shape"][1:])
            with quiet_native_output():  # the delegate is created (and announced) when tensors are allocated
                self._resize(1)
        except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as exc:
            # A damaged file may load and fail only when its tensors are allocated: one message either way.
            raise ModelStoreError(f"cannot load {where}: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}"
                                  ) from None

    def _resize(self, n: int) -> None:
        if n != self._batch:
            self._interp.resize_tensor_input(self._in["index"], [n, *self._shape])
            self._interp.allocate_tensors()
            self._batch = n

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self._resize(len(batch))
        self._interp.set_tensor(self._in["index"], np.ascontiguousarray(batch, dtype=np.float32))
        self._interp.invoke()
        if self._map is not None:
            self.last_maps = self._interp.get_tensor(self._map["index"]).copy()
        return self._interp.get_tensor(self._out["index"]).reshape(-1).copy()


class KerasBackend:
    """A tf.function traced once for any batch size: no per-call Python overhead of model.predict."""

    name = "keras"

    def __init__(self, keras_model):
        from fanqc_gui.core.tf_runtime import import_tf

        tf = import_tf()
        self._tf = tf
        shape = keras_model.inputs[0].shape
        spec = tf.TensorSpec([None, *shape[1:]], tf.float32)
        self._fn = tf.function(lambda x: keras_model(x, training=False), input_signature=[spec])

    last_maps: np.ndarray | None = None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self._fn(self._tf.constant(batch, dtype=self._tf.float32))
        if isinstance(out, (list, tuple)):  # an anomaly model: (image score, anomaly map)
            out, self.last_maps = out[0], out[1].numpy()
        return out.numpy().reshape(-1)
