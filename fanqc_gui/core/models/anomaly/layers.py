"""The anomaly scorer as Keras layers (registered, so model.keras loads in safe mode once this module is
imported: ModelStore.load_keras imports it for models of kind "anomaly"). Their statistics are
non-trainable weights: saved in model.keras and baked into model.tflite as constants.

Imports Keras at import time: import this module lazily (only where TensorFlow is needed).
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.tf_runtime import import_keras

keras = import_keras()
ops = keras.ops
PACKAGE = "fanqc_anomaly"


def _float32(weight):
    """A statistic as float32 for the arithmetic. New models keep their statistics in float16, as model.tflite
    does: converting float32 statistics took ~0.9 GB more memory than the values themselves (PaDiM's precision
    matrices are 150 MB in float32 at 320x320); the converter folds the cast into the stored constants."""
    return weight if weight.dtype == "float32" else ops.cast(weight, "float32")


def _select(x, channels: list[int] | None):
    return x if channels is None else ops.take(x, np.asarray(channels, np.int32), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchMahalanobis(keras.layers.Layer):
    """PaDiM: patch features (N, rows, cols, C) -> Mahalanobis distance of each patch to the Gaussian of good
    patches at its position (N, rows, cols). Weights: mean (P, d) and precision (P, d, d), P = rows * cols."""

    def __init__(self, rows: int, cols: int, channels: list[int] | None, depth: int,
                 statistics_dtype: str = "float32", **kwargs):
        super().__init__(**kwargs)
        self.rows, self.cols, self.depth = int(rows), int(cols), int(depth)
        self.channels = None if channels is None else [int(c) for c in channels]
        self.statistics_dtype = str(statistics_dtype)

    def build(self, input_shape):
        p = self.rows * self.cols
        self.mean = self.add_weight(shape=(p, self.depth), initializer="zeros", trainable=False, name="mean",
                                    dtype=self.statistics_dtype)
        self.precision = self.add_weight(shape=(p, self.depth, self.depth), initializer="zeros", trainable=False,
                                         name="precision", dtype=self.statistics_dtype)

    def call(self, x):
        p = self.rows * self.cols
        x = ops.reshape(_select(x, self.channels), (-1, p, self.depth))
        diff = ops.transpose(x - _float32(self.mean), (1, 0, 2))  # (P, N, d): one matrix product per position
        q = ops.sum(ops.matmul(diff, _float32(self.precision)) * diff, axis=-1)
        return ops.reshape(ops.transpose(ops.sqrt(ops.maximum(q, 0.0))), (-1, self.rows, self.cols))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.rows, self.cols)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "cols": self.cols, "channels": self.channels,
                "depth": self.depth, "statistics_dtype": self.statistics_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchNearest(keras.layers.Layer):
    """PatchCore: patch features -> distance of each patch to its nearest neighbour in a memory bank of good
    patches (M, d). The bank is searched in slices so that no (patches x M) matrix is ever whole."""

    def __init__(self, rows: int, cols: int, channels: list[int] | None, depth: int, bank_size: int,
                 slice_size: int = 1024, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.cols, self.depth, self.bank_size = int(rows), int(cols), int(depth), int(bank_size)
        self.slice_size = int(slice_size)
        self.channels = None if channels is None else [int(c) for c in channels]

    def build(self, input_shape):
        self.bank = self.add_weight(shape=(self.depth, self.bank_size), initializer="zeros", trainable=False,
                                    name="bank_t")  # transposed: patches @ bank_t
        self.bank_sq = self.add_weight(shape=(self.bank_size,), initializer="zeros", trainable=False, name="bank_sq")

    def call(self, x):
        x = ops.reshape(_select(x, self.channels), (-1, self.depth))
        x_sq = ops.sum(x * x, axis=-1, keepdims=True)
        best = None
        for start in range(0, self.bank_size, self.slice_size):
            stop = min(start + self.slice_size, self.bank_size)
            d2 = x_sq - 2.0 * ops.matmul(x, self.bank[:, start:stop]) + self.bank_sq[start:stop]
            low = ops.min(d2, axis=-1)
            best = low if best is None else ops.minimum(best, low)
        return ops.reshape(ops.sqrt(ops.maximum(best, 0.0)), (-1, self.rows, self.cols))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.rows, self.cols)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "cols": self.cols, "channels": self.channels,
                "depth": self.depth, "bank_size": self.bank_size, "slice_size": self.slice_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AnomalyScore(keras.layers.Layer):
    """Distance map (N, rows, cols) -> (image score (N, 1), anomaly map (N, rows, cols)), both normalised:
    the map is smoothed by a Gaussian (renormalised at the borders), then s -> sigmoid(slope * ln(s / scale)),
    so 0.5 is the raw distance `scale` and the image score is the map's maximum. Same maths as smooth_map and
    normalise in calibration.py."""

    def __init__(self, rows: int, cols: int, kernel: list[float], slope: float, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.cols = int(rows), int(cols)
        self.kernel = [float(v) for v in kernel]
        self.slope, self.scale = float(slope), float(scale)

    def call(self, distances):
        k = np.asarray(self.kernel, np.float32)
        size = len(k)
        x = ops.reshape(distances, (-1, self.rows, self.cols, 1))
        if size > 1:  # separable: a row pass and a column pass
            x = ops.conv(x, k.reshape(1, size, 1, 1), padding="same")
            x = ops.conv(x, k.reshape(size, 1, 1, 1), padding="same")
            from fanqc_gui.core.models.anomaly.calibration import border_weights

            x = x * border_weights(self.rows, self.cols, k)[None, :, :, None]
        x = ops.reshape(x, (-1, self.rows, self.cols))
        logs = ops.log(ops.maximum(x, 1e-12)) - np.float32(np.log(self.scale))
        heat = ops.sigmoid(np.float32(self.slope) * logs)
        score = ops.max(ops.reshape(heat, (-1, self.rows * self.cols)), axis=-1, keepdims=True)
        return score, heat

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1), (input_shape[0], self.rows, self.cols)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "cols": self.cols, "kernel": self.kernel,
                "slope": self.slope, "scale": self.scale}
