"""GO/NG metrics on hand-made labels and scores (GO = 0, NG = 1; NG when P(NG) >= threshold)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanqc_gui.core.models.evaluation import (
    BACKEND_MARGIN,
    compute_metrics,
    default_threshold,
    roc_auc,
    roc_curve,
    threshold_for_ng_recall,
)

# 4 GO and 4 NG parts. At 0.5: GO 0.1, 0.2 pass, GO 0.6, 0.7 rejected; NG 0.9, 0.8, 0.5 caught, NG 0.3 missed.
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORES = [0.1, 0.2, 0.6, 0.7, 0.9, 0.8, 0.5, 0.3]


def test_confusion_matrix_rows_are_true_class_columns_are_verdict():
    m = compute_metrics(LABELS, SCORES, 0.5)
    assert m.confusion_matrix == [[2, 2], [1, 3]]  # [[GO->GO, GO->NG], [NG->GO, NG->NG]]
    assert m.images == 8 and m.threshold == 0.5


def test_rates_from_the_confusion_matrix():
    m = compute_metrics(LABELS, SCORES, 0.5)
    assert m.accuracy == pytest.approx(5 / 8)
    assert m.ng_recall == pytest.approx(3 / 4)  # defects caught
    assert m.go_recall == pytest.approx(2 / 4)  # good parts passed
    assert m.precision == pytest.approx(3 / 5)  # of the parts called NG
    assert m.false_reject_rate == pytest.approx(2 / 4)


def test_score_equal_to_threshold_is_ng():
    assert compute_metrics([1], [0.5], 0.5).confusion_matrix == [[0, 0], [0, 1]]
    assert compute_metrics([0], [0.5], 0.5).confusion_matrix == [[0, 1], [0, 0]]


def test_lower_threshold_catches_more_defects():
    low, high = compute_metrics(LABELS, SCORES, 0.25), compute_metrics(LABELS, SCORES, 0.85)
    assert low.ng_recall == 1.0 and high.ng_recall == 0.25
    assert low.go_recall < high.go_recall


def test_roc_auc_by_hand_with_ties():
    # pairs (NG, GO): NG 0.8 beats both GO; NG 0.4 ties GO 0.4 (half) and beats GO 0.2 -> (2 + 1.5) / 4
    assert roc_auc([0, 0, 1, 1], [0.2, 0.4, 0.4, 0.8]) == pytest.approx(0.875)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.8, 0.9, 0.1, 0.2]) == 0.0


def test_roc_auc_is_none_with_one_class_only():
    assert roc_auc([1, 1, 1], [0.2, 0.5, 0.9]) is None
    assert roc_auc([0, 0], [0.2, 0.5]) is None
    assert compute_metrics([0, 0], [0.2, 0.5]).roc_auc is None


def test_empty_and_one_class_sets_do_not_divide_by_zero():
    m = compute_metrics([], [], 0.5)
    assert m.images == 0 and m.accuracy == 0.0 and m.confusion_matrix == [[0, 0], [0, 0]]
    m = compute_metrics([0, 0, 0], [0.1, 0.2, 0.9], 0.5)
    assert m.ng_recall == 0.0 and m.precision == 0.0 and m.go_recall == pytest.approx(2 / 3)


def test_metrics_serialise_to_plain_json_types():
    import json

    d = compute_metrics(LABELS, SCORES, 0.5).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {"accuracy", "ng_recall", "go_recall", "precision", "roc_auc", "threshold", "confusion_matrix",
            "images"} <= set(d)


def test_roc_curve_ends_at_all_rejected():
    fpr, tpr, thresholds = roc_curve(LABELS, SCORES)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(thresholds) < 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(fpr) >= 0)


def _brute_auc(labels, scores):
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


scores_st = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.5001, 0.7, 0.9, 1.0])  # few values: many ties
cases = st.lists(st.tuples(st.integers(0, 1), scores_st), min_size=1, max_size=40)


@given(cases)
@settings(max_examples=150, deadline=None, database=None)
def test_roc_auc_equals_pairwise_counting(case):
    labels, scores = [y for y, _ in case], [s for _, s in case]
    expected = _brute_auc(labels, scores) if 0 < sum(labels) < len(labels) else None
    got = roc_auc(labels, scores)
    assert got == pytest.approx(expected) if expected is not None else got is None


@given(cases, st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 1.0]))
@settings(max_examples=200, deadline=None, database=None)
def test_threshold_for_ng_recall_is_the_highest_reaching_the_target(case, target):
    labels, scores = [y for y, _ in case], [s for _, s in case]
    n_ng = sum(labels)
    t = threshold_for_ng_recall(labels, scores, target)
    if n_ng == 0:
        assert t == 0.5
        return

    def recall(th):
        return sum(1 for y, s in case if y == 1 and s >= th) / n_ng

    reaching = [c for c in set(scores) if recall(c) >= target - 1e-9]
    assert recall(t) >= target - 1e-9
    assert t == max(reaching)  # any higher candidate threshold misses too many defects


def test_threshold_for_ng_recall_by_hand():
    ng = [0.2, 0.4, 0.6, 0.8, 0.9]
    labels = [1] * 5 + [0]
    assert threshold_for_ng_recall(labels, ng + [0.95], 1.0) == 0.2
    assert threshold_for_ng_recall(labels, ng + [0.95], 0.8) == 0.4
    assert threshold_for_ng_recall(labels, ng + [0.95], 0.6) == 0.6


@given(cases, st.sampled_from([0.5, 0.9, 0.995, 1.0]))
@settings(max_examples=100, deadline=None, database=None)
def test_default_threshold_is_never_above_one_half(case, target):
    labels, scores = [y for y, _ in case], [s for _, s in case]
    t = default_threshold(labels, scores, target)
    assert t <= 0.5
    assert t == min(0.5, max(0.0, threshold_for_ng_recall(labels, scores, target) - BACKEND_MARGIN))


def test_default_threshold_lowers_only_when_defects_would_be_missed():
    assert default_threshold([0, 1, 1], [0.1, 0.9, 0.95]) == 0.5  # 0.5 already catches every defect
    # 0.5 would pass the 0.3 defect; the margin keeps it NG under a backend that scores it 1e-6 lower
    assert default_threshold([0, 1, 1], [0.1, 0.3, 0.95]) == pytest.approx(0.3 - BACKEND_MARGIN)
    assert compute_metrics([0, 1, 1], [0.1, 0.3 - 1e-6, 0.95], default_threshold([0, 1, 1], [0.1, 0.3, 0.95])
                           ).ng_recall == 1.0
