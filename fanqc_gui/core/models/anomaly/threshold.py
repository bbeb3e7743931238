"""The stored threshold of an anomaly model and its verdict, in the classifier's record (ThresholdChoice).

Scores are normalised (calibration.py) so that 0.5 is the threshold that good parts alone allow: a high
quantile of the held-out good parts' scores, raised by a margin. With NG images, `choose_threshold` moves it
towards the NG recall target as far as the cap on good parts rejected allows (the point nearest 0.5 that
meets both), and says "ready" only on enough images of both kinds. Without NG images nothing shows that
defects are caught: the model is "not ready" and the sentence says what to add.
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.models.threshold_choice import CURVE_POINTS, ThresholdChoice, _pct, choose_threshold

GO_ONLY_THRESHOLD = 0.5


def choose_anomaly_threshold(go_scores: np.ndarray, ng_scores: np.ndarray, target_ng_recall: float,
                             max_false_reject: float, scores_from: str) -> ThresholdChoice:
    """go_scores: normalised held-out scores of good parts; ng_scores: of NG images (may be empty)."""
    go = np.asarray(go_scores, np.float64)
    ng = np.asarray(ng_scores, np.float64)
    if len(ng):
        labels = np.r_[np.zeros(len(go)), np.ones(len(ng))]
        return choose_threshold(labels, np.r_[go, ng], target_ng_recall, max_false_reject, scores_from=scores_from)
    t = GO_ONLY_THRESHOLD
    frr = float(np.mean(go >= t)) if len(go) else 0.0
    reason = (f"trained on good parts only: rejects {_pct(frr)} of {len(go)} {scores_from} good parts; no NG images "
              f"show how many defects it catches (add NG images and train again, or evaluate it on a folder with "
              f"defects): not ready for the station")
    unique = np.unique(go)
    if len(unique) > CURVE_POINTS:
        unique = unique[np.unique(np.linspace(0, len(unique) - 1, CURVE_POINTS).round().astype(int))]
    curve = [[round(float(v), 6), 0.0, round(float(np.mean(go >= v)), 4)] for v in sorted({*unique.tolist(), t})]
    return ThresholdChoice(t, 0.0, frr, meets_target=False, ready=False, reason=reason, n_go=len(go), n_ng=0,
                           target_ng_recall=float(target_ng_recall), max_false_reject=float(max_false_reject),
                           scores=scores_from, curve=curve)
