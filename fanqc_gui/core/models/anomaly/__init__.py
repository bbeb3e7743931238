"""Anomaly mode: models trained from good parts alone that flag whatever differs, with a map of where.

PaDiM (the default: a Gaussian of good patch features per position) or PatchCore (the nearest good patch
from a coreset memory bank) on EfficientNet-Lite0 ImageNet features; ONE exported model, image -> (image
score, anomaly map), scored like P(NG) so the station, evaluation and Insight use it like a classifier.
Its trainer is core/training/anomaly_training.py. Nothing here imports TensorFlow at import time.
"""
from __future__ import annotations

KIND = "anomaly"


def is_anomaly_model(metadata: dict) -> bool:
    return isinstance(metadata, dict) and metadata.get("kind") == KIND
