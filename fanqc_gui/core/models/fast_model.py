"""The station's fast model: the same network with its weights stored as 8-bit integers (TFLite dynamic-range
quantisation), ~2.4x faster per frame on a CPU because the dense layer's 2.7 M weights are read from memory
for every frame. It is written next to model.tflite only with a proof: its P(NG) is compared with the float
model's on every validation image, and the station uses it only when P(NG) moves by at most MAX_ABS_DIFF
and no validation verdict changes at the model's threshold. The thresholds that would change one are stored
as intervals, so a threshold the supervisor saves later is checked too. Everything else (evaluation,
insight, `fanqc predict`) keeps the float model.
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.imaging import to_model_input
from fanqc_gui.core.models.backends import LiteRTBackend

FAST_TFLITE_FILE = "model.fast.tflite"
MAX_ABS_DIFF = 0.02
INTERVAL_MARGIN = 1e-4


def quantised_tflite(keras_model) -> bytes:
    from fanqc_gui.core.tf_runtime import import_tf, quiet_native_output

    tf = import_tf()
    with quiet_native_output():
        converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # weights int8, activations float
        return converter.convert()


def litert_scores(tflite_bytes: bytes, x_uint8: np.ndarray, batch: int = 64) -> np.ndarray:
    """P(NG) of a TFLite model (bytes) for uint8 images, one LiteRT thread as at the station."""
    backend = LiteRTBackend(None, num_threads=1, content=tflite_bytes)
    scores = [backend(to_model_input(x_uint8[i:i + batch])) for i in range(0, len(x_uint8), batch)]
    return np.concatenate(scores) if scores else np.zeros(0, np.float32)


def flip_intervals(reference: np.ndarray, fast: np.ndarray) -> list[list[float]]:
    """Thresholds t at which some image's verdict (P >= t) differs between the two models: the union of the
    intervals (min, max] of each image's two scores, merged."""
    # Widened by INTERVAL_MARGIN (another CPU's int8 kernels may round differently in the last bits) and
    # outwards to 6 decimals: shorter to store, never narrower than the truth.
    lo = np.floor((np.minimum(reference, fast).astype(np.float64) - INTERVAL_MARGIN) * 1e6) / 1e6
    hi = np.ceil((np.maximum(reference, fast).astype(np.float64) + INTERVAL_MARGIN) * 1e6) / 1e6
    keep = np.maximum(reference, fast) > np.minimum(reference, fast)
    merged: list[list[float]] = []
    for a, b in sorted(zip(lo[keep].tolist(), hi[keep].tolist())):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def agreement(reference: np.ndarray, fast: np.ndarray, threshold: float) -> dict:
    """How the fast model's P(NG) compares with the float model's on the same images."""
    reference, fast = np.asarray(reference, np.float64), np.asarray(fast, np.float64)
    diff = np.abs(fast - reference)
    max_diff = float(diff.max()) if len(diff) else 0.0
    return {"file": FAST_TFLITE_FILE, "weights": "int8 (TFLite dynamic-range quantisation)",
            "validation_images": int(len(diff)), "max_abs_diff": max_diff,
            "mean_abs_diff": float(diff.mean()) if len(diff) else 0.0,
            "verdict_flips_at_threshold": int(np.sum((fast >= threshold) != (reference >= threshold))),
            "threshold": float(threshold), "flip_intervals": flip_intervals(reference, fast),
            "usable": bool(len(diff) > 0 and max_diff <= MAX_ABS_DIFF)}


def build_fast_variant(keras_model, x_val_uint8: np.ndarray, reference_scores: np.ndarray,
                       threshold: float) -> tuple[bytes, dict]:
    """The quantised model and its agreement report on the validation images (reference: float scores)."""
    fast = quantised_tflite(keras_model)
    return fast, agreement(reference_scores, litert_scores(fast, x_val_uint8), threshold)


def fast_model_usable(metadata: dict, threshold: float) -> bool:
    """Whether the station may judge with the fast model at this threshold: close enough to the float model
    on every validation image, and no validation verdict would differ."""
    report = metadata.get("fast_tflite") or {}
    if not report.get("usable"):
        return False
    return not any(lo < threshold <= hi for lo, hi in report.get("flip_intervals", []))
