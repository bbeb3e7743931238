"""The threshold a new model is saved with, and whether it is ready for the station. Pure numpy.

From labels (GO=0, NG=1) and P(NG) scores the model never trained on (a validation split, or out-of-fold
scores), `choose_threshold`:
1. prefers the NG recall target: among thresholds that reach it and reject at most `max_false_reject` of the
   good parts, the one nearest 0.5 (0.5 itself where it suffices, as before: a higher threshold passes more
   defects, and only a supervisor chooses that);
2. where reaching the target would reject more good parts than the cap, takes the thresholds that catch the
   most defects within the cap (again the one nearest 0.5). One odd NG image therefore cannot drag the
   threshold to ~0: a threshold of 0 rejects every part, far beyond the cap;
3. calls the model ready only when the target is met within the cap on enough labelled images to tell
   (at least MIN_GO GO and MIN_NG NG). With 40 NG a 99.5 % target means "catch every one": a model that
   misses one of them is not ready, however good its figures look otherwise; the supervisor decides.

Thresholds sit BACKEND_MARGIN below the NG score they must catch, so that image stays NG under every backend.
The record keeps the trade-off curve, the chosen point and what catching every NG would cost.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fanqc_gui.core.models.evaluation import BACKEND_MARGIN, DEFAULT_TARGET_NG_RECALL

DEFAULT_MAX_FALSE_REJECT = 0.05  # good parts rejected: beyond this the station is not worth running
# Labelled images below which "ready" cannot be told. 20 GO: one false reject is then the 5 % cap. 20 NG: a
# model that catches only 86 % of defects still catches all of 20 in 5 % of validation sets (0.86^20); with 6 NG
# (a fifth of 30) a model caught all six in validation and 67 % of the defects in the casting test set.
MIN_GO = 20
MIN_NG = 20
CURVE_POINTS = 41  # the stored trade-off curve, at most


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    ng_recall: float  # at threshold, on these images
    false_reject_rate: float  # good parts called NG at threshold
    meets_target: bool
    ready: bool
    reason: str  # the verdict in plain words
    n_go: int
    n_ng: int
    target_ng_recall: float = DEFAULT_TARGET_NG_RECALL
    max_false_reject: float = DEFAULT_MAX_FALSE_REJECT
    scores: str = "validation"  # which scores chose it: "validation", "out-of-fold", ...
    catch_all_threshold: float | None = None  # the highest threshold catching every NG image
    catch_all_false_reject: float | None = None  # and the good parts it would reject
    curve: list = field(default_factory=list)  # [[threshold, ng_recall, false_reject_rate], ...], ascending

    @property
    def verdict(self) -> str:
        return "ready" if self.ready else "not ready"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ThresholdChoice:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known["curve"] = [list(p) for p in known.get("curve", [])]
        return cls(**known)


def _rates(y: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float]:
    """(NG recall, false-reject rate) at threshold t (NG when P(NG) >= t)."""
    called = s >= t
    n_ng, n_go = int(np.sum(y == 1)), int(np.sum(y == 0))
    recall = float(np.sum(called & (y == 1))) / n_ng if n_ng else 0.0
    frr = float(np.sum(called & (y == 0))) / n_go if n_go else 0.0
    return recall, frr


def _pct(x: float) -> str:
    """12 %, 99.5 %, 0.4 %: whole percent unless that would hide the difference that matters."""
    p = 100.0 * x
    text = f"{p:.0f}" if abs(p - round(p)) < 0.05 else f"{p:.1f}"
    if (text == "100" and x < 1.0) or (text == "0" and x > 0.0):  # never round a miss or a reject away
        text = f"{p:.2g}" if x > 0.0 and p < 0.05 else f"{p:.1f}"
    return f"{text} %"


def _curve(y: np.ndarray, s: np.ndarray, keep: list[float]) -> list[list[float]]:
    """A compact trade-off curve: up to CURVE_POINTS thresholds spread over the scores, plus `keep`."""
    unique = np.unique(s)
    if len(unique) > CURVE_POINTS:
        unique = unique[np.unique(np.linspace(0, len(unique) - 1, CURVE_POINTS).round().astype(int))]
    points = sorted({round(float(t), 6) for t in [*unique, *keep]})
    return [[t, *(round(v, 4) for v in _rates(y, s, t))] for t in points]


def choose_threshold(labels, scores, target_ng_recall: float = DEFAULT_TARGET_NG_RECALL,
                     max_false_reject: float = DEFAULT_MAX_FALSE_REJECT, margin: float = BACKEND_MARGIN,
                     scores_from: str = "validation") -> ThresholdChoice:
    """The stored threshold and the verdict (see the module's docstring for the rule)."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not (0 < target_ng_recall <= 1) or not (0 <= max_false_reject <= 1):
        raise ValueError("target NG recall must be in (0, 1] and the false-reject cap in [0, 1]")
    finite = np.isfinite(s)
    y, s = y[finite], s[finite]
    n_go, n_ng = int(np.sum(y == 0)), int(np.sum(y == 1))
    common = {"n_go": n_go, "n_ng": n_ng, "target_ng_recall": float(target_ng_recall),
              "max_false_reject": float(max_false_reject), "scores": scores_from}
    if n_ng == 0 or n_go == 0:
        missing = "NG" if n_ng == 0 else "GO"
        return ThresholdChoice(0.5, *_rates(y, s, 0.5), meets_target=False, ready=False,
                               reason=f"no {missing} images among the {scores_from} images: the threshold cannot "
                                      f"be checked: not ready for the station", **common)
    ng_sorted = np.sort(s[y == 1])
    # Candidates: just below each NG score (that image caught), just above each GO score (that part passed),
    # and 0.5, the ceiling of step 1.
    candidates = np.unique(np.clip(np.r_[ng_sorted - margin, np.nextafter(s[y == 0], np.inf), 0.5], 0.0, 1.0))
    # A defect counts as caught only with the margin to spare (or at threshold 0, where every part is NG).
    caught = n_ng - np.searchsorted(ng_sorted - margin, candidates, side="left")
    recall = np.where(candidates <= 0.0, n_ng, caught) / n_ng
    frr = (n_go - np.searchsorted(np.sort(s[y == 0]), candidates, side="left")) / n_go  # GO scored >= t
    within = frr <= max_false_reject + 1e-12
    reaching = within & (recall >= target_ng_recall - 1e-12)
    meets = bool(reaching.any())
    if not meets:  # the most defects that can be caught within the cap
        if not within.any():  # good parts scored 1.0: no threshold in [0, 1] passes enough of them
            within = frr <= frr.min() + 1e-12
        reaching = within & (recall >= recall[within].max() - 1e-12)
    # Both rates fall as the threshold rises, so the acceptable thresholds form an interval: take the point
    # in it nearest 0.5.
    low, high = candidates[reaching].min(), candidates[reaching].max()
    chosen = float(min(max(0.5, low), high))
    r, f = _rates(y, s, chosen)
    catch_all = float(max(0.0, ng_sorted[0] - margin))
    _, catch_all_frr = _rates(y, s, catch_all)
    enough = n_go >= MIN_GO and n_ng >= MIN_NG
    ready = bool(meets and enough and f <= max_false_reject + 1e-12)
    reason = _reason(r, f, meets, enough, n_go, n_ng, target_ng_recall, max_false_reject, scores_from, recall, frr)
    return ThresholdChoice(chosen, r, f, meets, ready, reason, catch_all_threshold=catch_all,
                           catch_all_false_reject=catch_all_frr,
                           curve=_curve(y, s, [chosen, catch_all, 0.5]), **common)


def _reason(recall, frr, meets, enough, n_go, n_ng, target, cap, scores_from, recalls, frrs) -> str:
    """The verdict sentence. recalls, frrs: over the candidate thresholds."""
    on = f"on {n_go + n_ng} {scores_from} images ({n_ng} NG)"
    caught = f"catches {_pct(recall)} of defects"
    if not enough:
        return (f"{caught} and rejects {_pct(frr)} of good parts, but on only {n_ng} NG and {n_go} GO "
                f"{scores_from} images: too few to tell (needs at least {MIN_NG} NG and {MIN_GO} GO): not ready "
                f"for the station")
    if meets:
        return f"{caught} and rejects {_pct(frr)} of good parts {on}: ready for the station"
    # The price of the target, for the sentence: the fewest good parts rejected while reaching it.
    reach = recalls >= target - 1e-12
    price = float(frrs[reach].min()) if reach.any() else 1.0
    return (f"{caught} (target {_pct(target)}) and rejects {_pct(frr)} of good parts {on}; catching "
            f"{_pct(target)} would reject {_pct(price)} of good parts (the limit is {_pct(cap)}): "
            f"not ready for the station")
