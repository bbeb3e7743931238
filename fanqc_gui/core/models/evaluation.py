"""Metrics for a GO/NG classifier from labels (GO=0, NG=1) and P(NG) scores. Pure numpy.

A part is NG when P(NG) >= threshold.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_TARGET_NG_RECALL = 0.995
BACKEND_MARGIN = 0.005


@dataclass(frozen=True)
class Metrics:
    images: int
    threshold: float
    accuracy: float
    ng_recall: float  # defects caught
    go_recall: float  # good parts passed
    precision: float  # of the parts called NG, how many are NG
    false_reject_rate: float  # good parts called NG
    roc_auc: float | None
    confusion_matrix: list[list[int]]  # [[GO->GO, GO->NG], [NG->GO, NG->NG]]

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(a: int, b: int) -> float:
    return float(a) / b if b else 0.0


def compute_metrics(labels, scores, threshold: float = 0.5) -> Metrics:
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    pred = s >= threshold
    go_go = int(np.sum((y == 0) & ~pred))
    go_ng = int(np.sum((y == 0) & pred))
    ng_go = int(np.sum((y == 1) & ~pred))
    ng_ng = int(np.sum((y == 1) & pred))
    return Metrics(
        images=int(len(y)), threshold=float(threshold),
        accuracy=_ratio(go_go + ng_ng, len(y)),
        ng_recall=_ratio(ng_ng, ng_ng + ng_go), go_recall=_ratio(go_go, go_go + go_ng),
        precision=_ratio(ng_ng, ng_ng + go_ng), false_reject_rate=_ratio(go_ng, go_go + go_ng),
        roc_auc=roc_auc(y, s), confusion_matrix=[[go_go, go_ng], [ng_go, ng_ng]])


def roc_auc(labels, scores) -> float | None:
    """Area under the ROC curve (Mann-Whitney with tie handling); None when one class is absent."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, thresholds), thresholds decreasing."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    n_pos, n_neg = max(int(np.sum(y == 1)), 1), max(int(np.sum(y == 0)), 1)
    tpr = np.array([np.sum((s >= t) & (y == 1)) / n_pos for t in thresholds])
    fpr = np.array([np.sum((s >= t) & (y == 0)) / n_neg for t in thresholds])
    return fpr, tpr, thresholds


def threshold_for_ng_recall(labels, scores, target: float = DEFAULT_TARGET_NG_RECALL) -> float:
    """The highest threshold whose NG recall on these images reaches target (NG when P(NG) >= t)."""
    y = np.asarray(labels).astype(int)
    ng_scores = np.sort(np.asarray(scores, dtype=np.float64)[y == 1])
    if len(ng_scores) == 0:
        return 0.5
    allowed_misses = int(np.floor(len(ng_scores) * (1.0 - target) + 1e-9))
    return float(ng_scores[min(allowed_misses, len(ng_scores) - 1)])


def default_threshold(labels, scores, target: float = DEFAULT_TARGET_NG_RECALL) -> float:
    """The threshold rule before the cap on good parts rejected: never above 0.5, lower where 0.5 would miss
    more defects than the target allows. (A higher threshold passes more defects; only a supervisor chooses
    that, in the insight page.) New models are saved with threshold_choice.choose_threshold, which gives the
    same threshold wherever it rejects at most the cap of good parts and says when the model is not ready."""
    # The margin keeps the boundary NG image NG under every backend: LiteRT and Keras scores differ by ~1e-6,
    # the station's int8 model (fast_model.py) by up to ~0.005 (0.0044 measured on an 80x80 model).
    return float(min(0.5, max(0.0, threshold_for_ng_recall(labels, scores, target) - BACKEND_MARGIN)))
