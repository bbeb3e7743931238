"""PaDiM in numpy: one Gaussian of the good parts' patch features per grid position; a patch's anomaly is its
Mahalanobis distance to the Gaussian of its position.

Fitting works through the positions in slices, so memory stays at the features plus the result (mean and
precision per position, the exported model's constants). It also gives every training image's
leave-one-out distances, exactly and for free: with the covariance regularised as (C + lam I) / (n - 1)
(C: the scatter matrix, lam fixed), leaving image i out is a rank-one downdate, and by Sherman-Morrison its
squared distance to the Gaussian of the other n - 1 images is
    a^2 (n - 2) q / (1 - a q),  a = n / (n - 1),  q = d' (C + lam I)^-1 d,  d = x_i - mean
(the full fit's squared distance is (n - 1) q). These held-out scores of good parts choose the threshold.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPSILON = 0.3  # added to each covariance's diagonal (features have variances of ~8): screws 0.955 vs 0.93 at 0.01
POSITIONS_PER_STEP = 64


class FitStopped(Exception):
    """should_stop() answered True during the fit."""


@dataclass
class PadimStats:
    mean: np.ndarray  # (P, d) float32
    precision: np.ndarray  # (P, d, d) float32: the inverse covariance
    loo: np.ndarray  # (n, P) float32: each training image's leave-one-out distance per position
    full: np.ndarray  # (n, P) float32: the same images' distances under the full fit


def fit_padim(features: np.ndarray, epsilon: float = EPSILON,
              progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              inverse: Callable[[np.ndarray], np.ndarray] = np.linalg.inv) -> PadimStats:
    """features: (n, P, d) patch features of n good images (n >= 3). inverse: a batched matrix inverse
    (float64); the trainer passes TensorFlow's, which uses every core (numpy's LAPACK loop uses one)."""
    n, p, d = features.shape
    if n < 3:
        raise ValueError("PaDiM needs at least 3 images")
    lam = epsilon * (n - 1)
    a = n / (n - 1)
    mean = np.empty((p, d), np.float32)
    precision = np.empty((p, d, d), np.float32)
    loo = np.empty((n, p), np.float32)
    full = np.empty((n, p), np.float32)
    eye = np.eye(d) * lam
    for start in range(0, p, POSITIONS_PER_STEP):
        if should_stop and should_stop():
            raise FitStopped()
        stop = min(start + POSITIONS_PER_STEP, p)
        x = np.ascontiguousarray(features[:, start:stop].transpose(1, 0, 2), dtype=np.float32)  # (k, n, d)
        mu = x.mean(axis=1, keepdims=True)
        xc = x - mu
        scatter = np.matmul(xc.transpose(0, 2, 1), xc).astype(np.float64) + eye
        inv = inverse(scatter)  # (C + lam I)^-1
        precision[start:stop] = inv * (n - 1)
        q = np.einsum("knd,knd->kn", np.matmul(xc, precision[start:stop]), xc).astype(np.float64) / (n - 1)
        q = np.clip(q, 0.0, (1.0 - 1e-6) / a)  # a q < 1 holds exactly; guard rounding
        mean[start:stop] = mu[:, 0]
        full[:, start:stop] = np.sqrt((n - 1) * q).T
        loo[:, start:stop] = np.sqrt(a * a * (n - 2) * q / (1.0 - a * q)).T
        if progress:
            progress(stop, p)
    return PadimStats(mean, precision, loo, full)


def padim_distances(stats: PadimStats, features: np.ndarray) -> np.ndarray:
    """(m, P, d) features -> (m, P) Mahalanobis distances under the fit."""
    out = np.empty(features.shape[:2], np.float32)
    for start in range(0, features.shape[1], POSITIONS_PER_STEP):
        stop = min(start + POSITIONS_PER_STEP, features.shape[1])
        diff = features[:, start:stop].transpose(1, 0, 2).astype(np.float32) - stats.mean[start:stop, None]
        q = np.einsum("knd,knd->kn", np.matmul(diff, stats.precision[start:stop]), diff)
        out[:, start:stop] = np.sqrt(np.maximum(q, 0.0)).T
    return out
