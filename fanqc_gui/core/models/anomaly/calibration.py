"""From distance maps to what the station reads, in numpy (the exported model does the same in TF ops,
layers.AnomalyScore): smoothing, the image score, and the normalisation that makes 0.5 the threshold
chosen from good parts alone.

Normalised score = sigmoid(slope * ln(distance / scale)): monotone, in (0, 1), 0.5 at distance == scale.
`scale` is the raw threshold from the held-out good parts; `slope` spreads the good parts' scores over the
lower half (their median maps to MEDIAN_GO_SCORE), so the Insight slider has room on both sides.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

SMOOTH_SIGMA = 1.0  # patches; the 3x3 local mean already smooths, this makes the heat map read as regions
MEDIAN_GO_SCORE = 0.1
SLOPE_RANGE = (2.0, 40.0)


def gaussian_kernel(sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    if sigma <= 0:
        return np.ones(1, np.float32)
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def border_weights(rows: int, cols: int, kernel: np.ndarray) -> np.ndarray:
    """1 / (the kernel's weight inside the grid) per position: a zero-padded blur renormalised at the borders."""
    k = np.asarray(kernel, np.float32)
    inside = cv2.sepFilter2D(np.ones((rows, cols), np.float32), -1, k, k, borderType=cv2.BORDER_CONSTANT)
    return (1.0 / inside).astype(np.float32)


def smooth_maps(maps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(N, rows, cols) distances -> smoothed, as AnomalyScore smooths them."""
    maps = np.asarray(maps, np.float32)
    k = np.asarray(kernel, np.float32)
    if len(k) <= 1:
        return maps
    w = border_weights(maps.shape[1], maps.shape[2], k)
    return np.stack([cv2.sepFilter2D(m, -1, k, k, borderType=cv2.BORDER_CONSTANT) * w for m in maps])


def image_scores(maps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Raw image scores: the maximum of each smoothed distance map."""
    sm = smooth_maps(maps, kernel)
    return sm.reshape(len(sm), -1).max(axis=1) if len(sm) else np.zeros(0, np.float32)


def normalise(raw: np.ndarray, slope: float, scale: float) -> np.ndarray:
    raw = np.maximum(np.asarray(raw, np.float64), 1e-12)
    return 1.0 / (1.0 + np.exp(-slope * (np.log(raw) - math.log(scale))))


def raw_threshold(go_scores: np.ndarray, quantile: float, margin: float) -> float:
    """The raw distance that good parts alone allow: the `quantile` of the held-out good parts' scores
    (nearest rank, rounded up: with few images it is their maximum), raised by `margin` (a share)."""
    s = np.sort(np.asarray(go_scores, np.float64))
    if not len(s):
        raise ValueError("no held-out good scores")
    rank = min(len(s) - 1, math.ceil(quantile * len(s)) - 1)
    return float(s[max(rank, 0)] * (1.0 + margin))


def slope_for(go_scores: np.ndarray, scale: float) -> float:
    """The slope that puts the good parts' median score at MEDIAN_GO_SCORE (within SLOPE_RANGE)."""
    median = float(np.median(go_scores))
    ratio = math.log(scale / median) if median > 0 and scale > median else 0.0
    want = math.log(1.0 / MEDIAN_GO_SCORE - 1.0)
    slope = want / ratio if ratio > 0 else SLOPE_RANGE[1]
    return float(min(max(slope, SLOPE_RANGE[0]), SLOPE_RANGE[1]))
