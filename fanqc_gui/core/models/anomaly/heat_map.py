"""Drawing an anomaly map over the image it came from (Qt-free: BGR uint8 in, BGR uint8 out), for Insight,
the camera page and NG captures.

The map is on the model's patch grid (rows x cols, one cell per 8x8 input pixels) and scored like P(NG):
a cell at or above the model's threshold is where the part differs enough to be NG. Cells well below the
threshold stay transparent, so a good part looks like itself; the colour rises towards red at the
threshold, and the regions at or above it are outlined.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fanqc_gui.core.imaging import ImageError

ALPHA = 0.5
FADE_FROM = 0.5  # share of the threshold below which the map is not drawn
OUTLINE_BGR = (0, 0, 255)


def resize_map(amap: np.ndarray, width: int, height: int) -> np.ndarray:
    """The grid map (rows x cols) stretched over width x height pixels (bilinear), float32."""
    amap = np.asarray(amap, np.float32)
    if amap.ndim != 2:
        raise ImageError(f"an anomaly map has two dimensions, not shape {amap.shape}")
    return cv2.resize(amap, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)


def overlay(bgr: np.ndarray, amap: np.ndarray, threshold: float, alpha: float = ALPHA,
            outline: bool = True) -> np.ndarray:
    """bgr with the map blended over it (a new image). The map covers the whole of bgr: pass the crop the
    model judged (the ROI), not the full frame."""
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ImageError(f"expected a BGR uint8 image, got shape {bgr.shape} {bgr.dtype}")
    h, w = bgr.shape[:2]
    full = resize_map(amap, w, h)
    t = float(min(max(threshold, 1e-6), 1.0))
    # Colour: 0 at FADE_FROM * t, full red at t and above.
    level = np.clip((full - FADE_FROM * t) / ((1.0 - FADE_FROM) * t), 0.0, 1.0)
    colours = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    weight = alpha * level
    # One pass in OpenCV: a third of the time of the same blend in numpy float (1.4 vs 4 ms at 448x448),
    # which the station pays on every frame.
    out = cv2.blendLinear(bgr, colours, 1.0 - weight, weight)
    if outline:
        mask = (full >= t).astype(np.uint8)
        if mask.any():
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, OUTLINE_BGR, max(1, min(h, w) // 200), cv2.LINE_AA)
    return out


def hot_spot(amap: np.ndarray, width: int, height: int) -> tuple[int, int, float]:
    """(x, y, value) of the map's maximum, in pixels of a width x height image: where to point the eye."""
    amap = np.asarray(amap, np.float32)
    r, c = np.unravel_index(int(np.argmax(amap)), amap.shape)
    return (int((c + 0.5) * width / amap.shape[1]), int((r + 0.5) * height / amap.shape[0]), float(amap[r, c]))


@dataclass(frozen=True)
class AnomalyView:
    """One image judged by an anomaly model, ready to show (Insight) or save (an NG capture)."""

    score: float  # normalised like P(NG): >= threshold is NG
    verdict: str
    threshold: float
    amap: np.ndarray  # rows x cols, same scale as score
    drawn: np.ndarray  # BGR uint8: the image with the map over it
    hot_spot: tuple[int, int, float]  # where the map peaks, in the image's pixels


def explain(predictor, bgr: np.ndarray, threshold: float | None = None) -> AnomalyView:
    """Judge bgr (the crop the model sees: a file's image or the station's ROI) with an anomaly model's
    Predictor and draw where it differs. One model call; no TensorFlow."""
    t = predictor.threshold if threshold is None else float(threshold)
    score, amap = predictor.predict_frame_with_map(bgr)
    if amap is None:
        raise ValueError(f"{predictor.info.id} is not an anomaly model: it gives no map (use Grad-CAM)")
    h, w = bgr.shape[:2]
    return AnomalyView(score, "NG" if score >= t else "GO", t, amap, overlay(bgr, amap, t), hot_spot(amap, w, h))
