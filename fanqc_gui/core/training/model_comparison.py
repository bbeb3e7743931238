"""A newly trained model next to the active one, measured on the same validation images.

Both models run on the new model's recorded validation files (metadata `validation_files`, relative to the
workspace), each with its own preprocessing, output direction and threshold (through `Predictor`), so the
figures a supervisor compares before pressing "Activate" come from identical images. Pure Python: no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.models.evaluation import Metrics, compute_metrics
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelInfo, ModelStoreError


class ComparisonError(FanQCError, ValueError):
    """The comparison cannot be made; the message says why."""


@dataclass(frozen=True)
class ModelFigures:
    model_id: str
    name: str
    metrics: Metrics


@dataclass(frozen=True)
class Comparison:
    new: ModelFigures
    active: ModelFigures | None  # None: no active model (or the new model is the active one)
    images: int  # validation images both models were measured on
    missing: int = 0  # recorded validation files that no longer exist (moved or deleted)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    active_error: str | None = None  # the active model could not be run (its figures are then missing)
    recorded_matrix: list[list[int]] | None = None  # the new model's confusion matrix measured during training
    # The new model's verdict from training (ModelInfo.readiness): ready for the station?, and why in words.
    readiness: tuple[bool | None, str] = (None, "")
    # The new model's figures come from its recorded held-out scores (out-of-fold heads, or good parts held
    # out of an anomaly model's statistics): its validation images are also its training images.
    held_out: bool = False

    @property
    def skipped(self) -> int:
        return self.missing + len(self.unreadable)

    def _differences(self) -> tuple[int, int]:
        """(more defects missed, more good parts rejected) by the new model than by the active one."""
        (_, new_rejected), (new_missed, _) = self.new.metrics.confusion_matrix
        (_, old_rejected), (old_missed, _) = self.active.metrics.confusion_matrix
        return new_missed - old_missed, new_rejected - old_rejected

    @property
    def verdict(self) -> str:
        """'no_active', 'better' (no worse on either count), 'worse', 'same' or 'mixed' (fewer missed defects
        for more false rejects, or the other way round)."""
        if self.active is None:
            return "no_active"
        missed, rejected = self._differences()
        if missed == rejected == 0:
            return "same"
        if missed <= 0 and rejected <= 0:
            return "better"
        if missed >= 0 and rejected >= 0:
            return "worse"
        return "mixed"

    def headline(self) -> str:
        """The verdict in one or two sentences: what changes at the station if the new model is activated, and
        whether the new model is fit for the station at all."""
        text = self._change()
        if self.readiness[0] is False:
            why = self.readiness[1].removesuffix(": not ready for the station")
            text += f" The new model is not ready for the station: {why}. Activate it only if you accept that."
        return text

    def _change(self) -> str:
        if self.active is None:
            reason = f" ({self.active_error})" if self.active_error else ""
            return f"There is no active model to compare with{reason}: activating this one puts it into use."
        missed, rejected = self._differences()
        change = (f"it {_count_change(missed, 'misses {} defect', 'catches as many defects')} and "
                  f"{_count_change(rejected, 'wrongly rejects {} good part', 'wrongly rejects as many good parts')}")
        return {
            "better": f"The new model is better: {change}.",
            "worse": f"The new model is worse: {change}. Keep the active model.",
            "same": "Both models give the same results on these images.",
            "mixed": f"Mixed result: {change}. A missed defect reaches the customer: activate the new model only "
                     f"if that trade is acceptable.",
        }[self.verdict]

    def details(self) -> str:
        """How the figures were measured, and anything that qualifies them."""
        new = self.new.metrics
        n_ng, n_go = sum(new.confusion_matrix[1]), sum(new.confusion_matrix[0])
        if self.held_out:
            text = (f"Measured on {self.images} images ({n_ng} NG, {n_go} GO): the new model's figures are its "
                    f"held-out scores from training (each image scored by a model that never learned from it), "
                    f"the active model's from the station's runtime; each with its own threshold.")
        else:
            text = (f"Measured on {self.images} validation images ({n_ng} NG, {n_go} GO) the new model never "
                    f"learned from, each model with its own threshold and the station's runtime.")
        if self.active is not None:
            text += " The active model may have learned from some of them, which can only flatter it."
        if self.skipped:
            text += (f" Left out: {self.missing} image(s) no longer there and {len(self.unreadable)} that cannot "
                     f"be read.")
        recorded = self.recorded_matrix
        if recorded and not self.skipped and not self.held_out and recorded != new.confusion_matrix:
            # The threshold lies exactly on a validation score; another runtime can put it on the other side.
            text += (f" During training the new model caught {recorded[1][1]} and rejected {recorded[0][1]} of "
                     f"these: the station's runtime scores a borderline image very slightly differently.")
        return text

    def summary(self) -> str:
        return f"{self.headline()} {self.details()}"


def _count_change(delta: int, phrase: str, same: str) -> str:
    """'misses 2 more defects' from phrase 'misses {} defect' and delta 2; `same` when delta is 0."""
    if delta == 0:
        return same
    amount = f"{abs(delta)} {'more' if delta > 0 else 'fewer'}"
    return phrase.format(amount) + ("s" if abs(delta) != 1 else "")


def validation_set(info: ModelInfo, root: str | Path) -> tuple[list[Path], np.ndarray, int]:
    """(existing paths, their labels GO=0/NG=1, how many recorded files are missing) for info's validation."""
    paths, labels, _, missing = _recorded_validation(info, root)
    return paths, labels, missing


def _recorded_validation(info: ModelInfo, root: str | Path
                         ) -> tuple[list[Path], np.ndarray, np.ndarray | None, int]:
    """validation_set plus the recorded held-out scores (`oof_p_ng`) of the existing files, when every
    entry has a finite one in [0, 1]; else None."""
    files = info.metadata.get("validation_files")
    if not files:
        raise ComparisonError(f"{info.name} has no recorded validation images (only models trained by FanQC "
                              f"record them)")
    root = Path(root)
    paths, labels, held, missing = [], [], [], 0
    for entry in files:
        path = Path(entry["path"])
        path = path if path.is_absolute() else root / path
        if path.is_file():
            paths.append(path)
            labels.append(int(entry["label"]))
            held.append(_held_out_score(entry))
        else:
            missing += 1
    scores = None if None in held or not held else np.asarray(held, dtype=np.float64)
    return paths, np.asarray(labels, dtype=int), scores, missing


def _held_out_score(entry: dict) -> float | None:
    value = entry.get("oof_p_ng")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return float(value)  # NaN fails both comparisons
    return None


def compare_models(new: ModelInfo, active: ModelInfo | None, root: str | Path, backend: str = "auto",
                   should_stop: Callable[[], bool] | None = None) -> Comparison:
    """Measure new and active on new's validation images under root (the workspace it was trained on)."""
    paths, labels, held_out, missing = _recorded_validation(new, root)
    if not paths:
        raise ComparisonError(f"none of the {missing} validation images of {new.name} exist under {root} "
                              f"any more (moved or deleted)")
    if held_out is not None:  # re-predicting them would score the model on its own training images
        new_scores = (held_out, [None] * len(paths))
    else:
        new_scores = _scores(Predictor(new, backend), paths, should_stop)
    active_scores, active_error = None, None
    if active is not None and active.id != new.id:
        try:
            active_scores = _scores(Predictor(active, backend), paths, should_stop)
        except (ModelStoreError, OSError, ValueError) as exc:
            active_error = f"the active model {active.name} cannot be run: {exc}"
    unreadable = [(str(p), reason) for p, reason in zip(paths, new_scores[1]) if reason]
    keep = np.array([reason is None for reason in new_scores[1]], dtype=bool)
    if active_scores is not None:
        keep &= np.array([reason is None for reason in active_scores[1]], dtype=bool)
    if not keep.any():
        raise ComparisonError(f"none of the validation images of {new.name} could be read")
    figures_new = ModelFigures(new.id, new.name, compute_metrics(labels[keep], new_scores[0][keep], new.threshold))
    figures_active = None
    if active_scores is not None:
        figures_active = ModelFigures(active.id, active.name,
                                      compute_metrics(labels[keep], active_scores[0][keep], active.threshold))
    recorded = new.metadata.get("validation", {}).get("confusion_matrix")
    return Comparison(figures_new, figures_active, int(keep.sum()), missing, unreadable, active_error, recorded,
                      new.readiness(), held_out is not None)


def _scores(predictor: Predictor, paths: list[Path], should_stop) -> tuple[np.ndarray, list[str | None]]:
    predictions = predictor.predict_paths(paths, should_stop=should_stop)
    if len(predictions) != len(paths):
        raise ComparisonError("the comparison was cancelled")
    scores = np.array([p.p_ng if p.p_ng is not None else np.nan for p in predictions], dtype=np.float64)
    return scores, [p.error for p in predictions]
