"""The stored threshold and the ready / not ready verdict, on hand-made scores (GO = 0, NG = 1)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanqc_gui.core.models.evaluation import BACKEND_MARGIN, compute_metrics, default_threshold
from fanqc_gui.core.models.threshold_choice import (
    CURVE_POINTS,
    DEFAULT_MAX_FALSE_REJECT,
    MIN_GO,
    MIN_NG,
    ThresholdChoice,
    choose_threshold,
)


def _separable(n_go=200, n_ng=40, odd=None, seed=0):
    """A good model's validation scores: GO near 0, NG near 1; `odd`: the score of one odd NG image."""
    rng = np.random.default_rng(seed)
    go, ng = rng.beta(1, 30, n_go), rng.beta(30, 1, n_ng)
    if odd is not None:
        ng[0] = odd
    return np.r_[np.zeros(n_go), np.ones(n_ng)].astype(int), np.r_[go, ng]


def test_one_odd_defect_among_few_does_not_drag_the_threshold_to_zero():
    # The issue: 40 NG, a model with AUC ~0.998; "catch every one" stored 0.025 and rejected most good parts.
    labels, scores = _separable(odd=0.01)
    choice = choose_threshold(labels, scores)
    assert choice.threshold == 0.5
    assert choice.ng_recall == pytest.approx(39 / 40) and choice.false_reject_rate == 0.0
    assert compute_metrics(labels, scores, choice.threshold).accuracy > 0.99
    # 99.5 % of 40 means every one: the supervisor decides whether one miss in 40 is acceptable.
    assert not choice.meets_target and not choice.ready
    assert choice.reason == ("catches 97.5 % of defects (target 99.5 %) and rejects 0 % of good parts on 240 "
                             "validation images (40 NG); catching 99.5 % would reject 88 % of good parts (the limit "
                             "is 5 %): not ready for the station")
    # What catching that one would have cost is on record.
    assert choice.catch_all_threshold == pytest.approx(0.01 - BACKEND_MARGIN)
    assert choice.catch_all_false_reject == pytest.approx(0.88)


def test_a_model_that_catches_every_defect_cheaply_is_ready():
    labels, scores = _separable()
    choice = choose_threshold(labels, scores)
    assert choice.threshold == 0.5 and choice.ng_recall == 1.0 and choice.meets_target and choice.ready
    assert choice.reason == ("catches 100 % of defects and rejects 0 % of good parts on 240 validation images "
                             "(40 NG): ready for the station")


def test_a_weak_model_gets_the_best_point_within_the_cap_and_says_what_the_target_would_cost():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(300), np.ones(100)].astype(int)
    scores = np.clip(np.r_[rng.normal(0.3, 0.15, 300), rng.normal(0.55, 0.15, 100)], 0, 1)
    choice = choose_threshold(labels, scores)
    assert not choice.ready and not choice.meets_target
    assert choice.false_reject_rate <= DEFAULT_MAX_FALSE_REJECT
    # No threshold catches more defects (with the backend margin to spare) within the cap.
    ng = scores[labels == 1]
    for t in np.unique(scores):
        if compute_metrics(labels, scores, t).false_reject_rate <= DEFAULT_MAX_FALSE_REJECT:
            assert np.mean(ng - BACKEND_MARGIN >= t) <= choice.ng_recall + 1e-9
    assert choice.reason.startswith(f"catches {100 * choice.ng_recall:.0f} % of defects (target 99.5 %) and "
                                    f"rejects 5 % of good parts on 400 validation images (100 NG); catching 99.5 % "
                                    f"would reject ")
    assert choice.reason.endswith("of good parts (the limit is 5 %): not ready for the station")


@pytest.mark.parametrize("scores", [[0.3] * 100, [0.0] * 100, list(np.linspace(0, 1, 100))])
def test_a_constant_or_useless_output_is_never_stored_as_fine(scores):
    labels = ([0, 1] * 50)
    choice = choose_threshold(labels, scores)
    assert not choice.ready and choice.false_reject_rate <= DEFAULT_MAX_FALSE_REJECT
    assert choice.threshold > 0.0  # 0 would reject every part
    assert "not ready for the station" in choice.reason


def test_too_few_labelled_images_are_not_ready_with_that_reason():
    assert (MIN_GO, MIN_NG) == (20, 20)
    labels, scores = _separable(n_go=20, n_ng=20)
    assert choose_threshold(labels, scores).ready
    assert not choose_threshold(labels[1:], scores[1:]).ready and not choose_threshold(labels[:-1], scores[:-1]).ready
    choice = choose_threshold([0] * 6 + [1] * 3, [0.1] * 6 + [0.9] * 3)
    assert choice.ng_recall == 1.0 and choice.false_reject_rate == 0.0
    assert not choice.ready and choice.reason == (
        "catches 100 % of defects and rejects 0 % of good parts, but on only 3 NG and 6 GO validation images: too "
        "few to tell (needs at least 20 NG and 20 GO): not ready for the station")
    one_class = choose_threshold([0] * 30, [0.1] * 30)
    assert not one_class.ready and "no NG images" in one_class.reason


def test_the_boundary_defect_stays_caught_under_another_backend():
    labels, scores = _separable(odd=0.3)  # catching it costs nothing: no GO scores above 0.3
    choice = choose_threshold(labels, scores)
    assert choice.threshold == pytest.approx(0.3 - BACKEND_MARGIN) and choice.ng_recall == 1.0 and choice.ready
    shifted = scores.copy()
    shifted[200] -= 1e-6
    assert compute_metrics(labels, shifted, choice.threshold).ng_recall == 1.0


scores_st = st.sampled_from([0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.5001, 0.7, 0.9, 0.99, 1.0])
cases = st.lists(st.tuples(st.integers(0, 1), scores_st), min_size=2, max_size=60)


@given(cases, st.sampled_from([0.9, 0.995, 1.0]))
@settings(max_examples=200, deadline=None, database=None)
def test_where_the_old_rule_is_affordable_the_threshold_is_unchanged(case, target):
    labels, scores = [y for y, _ in case], [s for _, s in case]
    choice = choose_threshold(labels, scores, target)
    assert choice.false_reject_rate <= DEFAULT_MAX_FALSE_REJECT or not choice.ready
    if 0 < sum(labels) < len(labels):
        old = default_threshold(labels, scores, target)
        if compute_metrics(labels, scores, old).false_reject_rate <= DEFAULT_MAX_FALSE_REJECT:
            assert choice.threshold == pytest.approx(old) and choice.meets_target
    assert choice.ready == (choice.meets_target and choice.n_go >= MIN_GO and choice.n_ng >= MIN_NG)


def test_the_record_round_trips_through_json_with_a_compact_curve():
    labels, scores = _separable(n_go=3000, n_ng=600, odd=0.01)
    choice = choose_threshold(labels, scores, scores_from="out-of-fold")
    d = json.loads(json.dumps(choice.to_dict()))
    assert ThresholdChoice.from_dict(d) == choice
    assert d["scores"] == "out-of-fold" and d["n_go"] == 3000 and d["n_ng"] == 600
    curve = np.array(d["curve"])
    assert len(curve) <= CURVE_POINTS + 3 and np.all(np.diff(curve[:, 0]) > 0)
    assert np.all(np.diff(curve[:, 1]) <= 0) and np.all(np.diff(curve[:, 2]) <= 0)  # both fall as t rises
    assert [round(choice.threshold, 6), round(choice.ng_recall, 4), round(choice.false_reject_rate, 4)] in d["curve"]
    assert ThresholdChoice.from_dict({**d, "added_later": 1}) == choice  # newer records stay readable


def test_good_parts_scored_one_still_give_a_threshold_between_zero_and_one():
    choice = choose_threshold([0] * 20 + [1] * 20, [1.0] * 20 + [0.9] * 20)
    assert 0.0 <= choice.threshold <= 1.0 and not choice.ready
    assert choice.false_reject_rate == 1.0 and "not ready for the station" in choice.reason
