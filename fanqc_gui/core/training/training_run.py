"""What a training run takes and gives, whatever the preset: the options, the listener that follows the run
(stages, batches, epochs, should_stop), the result, the error a user sees, and saving the trained model with
its TFLite and fast station variants. trainer.py (the reference CNN), pretrained_training.py and the
anomaly trainer all build on it; nothing here imports them.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fanqc_gui.core.dataset.scan import Problem
from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.imaging import PreprocessSpec
from fanqc_gui.core.models.evaluation import DEFAULT_TARGET_NG_RECALL
from fanqc_gui.core.models.export import keras_to_tflite
from fanqc_gui.core.models.fast_model import FAST_TFLITE_FILE, build_fast_variant
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.core.models.threshold_choice import DEFAULT_MAX_FALSE_REJECT, ThresholdChoice
from fanqc_gui.core.tf_runtime import import_keras

PRESETS = ("pretrained", "reference")


class TrainingError(FanQCError, RuntimeError):
    """Training could not finish; the message says why and what to do."""


@dataclass
class TrainOptions:
    image_size: int = 80
    # None: the epochs follow the data (planned_epochs: 4 on 6,600 images, more on fewer). Epochs 3+ visit
    # the harder half of the images (training_loop.py). A number: exactly that many epochs.
    epochs: int | None = None
    batch_size: int = 32
    learning_rate: float = 2e-3  # the peak of the one-cycle schedule
    hard_example_fraction: float = 0.5  # of the training images, visited by each epoch after the second
    val_split: float = 0.2
    seed: int = 0
    augment: bool = False
    class_weighting: bool | None = None  # None: on when a class is under MINORITY_SHARE of the images
    early_stopping: bool = True
    patience: int = 3
    interpolation: str = "area"
    target_ng_recall: float = DEFAULT_TARGET_NG_RECALL
    max_false_reject: float = DEFAULT_MAX_FALSE_REJECT  # good parts the stored threshold may reject
    # "pretrained": EfficientNet-Lite0 features + a trained head (pretrained_training.py), which uses the
    # options below and interpolation, seed, targets; "reference": the seed's CNN with the options above.
    preset: str = "pretrained"
    input_size: str = "auto"  # pretrained: "auto" (by rule from the images' sizes), "N" or "WxH"
    orientation_variants: str = "auto"  # pretrained: flips/turns as extra features: "auto", "on", "off"
    folds: int = 5  # pretrained: the k-fold whose out-of-fold scores choose the threshold
    fine_tune: bool = False  # pretrained: also tune the upper blocks (minutes, not seconds: fine_tuning.py)

    def validate(self) -> None:
        checks = [
            (self.epochs is None or self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (0 < self.learning_rate < 1, "learning rate must be between 0 and 1"),
            (16 <= self.image_size <= 512, "image size must be between 16 and 512"),
            (0 < self.val_split < 0.9, "validation split must be between 0 and 0.9"),
            (self.patience >= 1, "patience must be at least 1"),
            (0 < self.target_ng_recall <= 1, "target NG recall must be in (0, 1]"),
            (0 < self.hard_example_fraction <= 1, "hard-example fraction must be in (0, 1]"),
            (0 <= self.max_false_reject <= 1, "false-reject limit must be in [0, 1]"),
            (self.preset in PRESETS, f"unknown preset {self.preset!r}: use one of {', '.join(PRESETS)}"),
            (self.orientation_variants in ("auto", "on", "off"), "orientation variants must be auto, on or off"),
            (2 <= self.folds <= 20, "folds must be between 2 and 20"),
            (not self.fine_tune or self.preset == "pretrained",
             "fine-tuning is for the pretrained preset (the reference network trains all its layers anyway)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.spec()  # checks the interpolation name
        if self.preset == "pretrained":
            from fanqc_gui.core.models.backbone.input_size import parse_input_size

            parse_input_size(self.input_size)  # an impossible size is refused before anything runs

    def spec(self) -> PreprocessSpec:
        return PreprocessSpec(width=self.image_size, height=self.image_size, interpolation=self.interpolation)


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based within the epoch
    batches: int
    images_done: int  # within the whole run
    images_total: int
    images_per_s: float
    eta_s: float


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class TrainingListener:
    """Override what you need. Called on the training thread."""

    def on_stage(self, text: str) -> None: ...

    def on_committed(self) -> None:
        """The run passed its point of no return: it now measures and saves; a stop no longer abandons it."""

    def on_decode_progress(self, done: int, total: int) -> None: ...

    def on_batch(self, progress: BatchProgress) -> None: ...

    def on_epoch(self, metrics: EpochMetrics, model) -> None: ...

    def should_stop(self) -> bool:
        return False


@dataclass
class TrainResult:
    model: ModelInfo | None  # None when stopped and not saved
    history: list[EpochMetrics]
    epochs_run: int
    best_epoch: int
    seconds: float
    stopped: bool
    validation: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    threshold_choice: ThresholdChoice | None = None

    def to_dict(self) -> dict:
        return {
            "model": str(self.model.folder) if self.model else None,
            "model_id": self.model.id if self.model else None,
            "epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "seconds": round(self.seconds, 2),
            "stopped": self.stopped, "val_accuracy": self.validation.get("accuracy"),
            "val_ng_recall": self.validation.get("ng_recall"), "threshold": self.validation.get("threshold"),
            "ready": self.threshold_choice.ready if self.threshold_choice else None,
            "verdict": self.threshold_choice.reason if self.threshold_choice else None,
            "threshold_choice": self.threshold_choice.to_dict() if self.threshold_choice else None,
            "validation": self.validation, "history": [m.to_dict() for m in self.history],
            "skipped_files": [{"path": str(p.path), "reason": p.reason} for p in self.problems],
        }


def import_keras_quietly() -> None:
    try:
        import_keras()
    except Exception:  # reported by the import on the training thread, with its message
        pass


class TensorFlowImport:
    """TensorFlow's import (seconds) on a background thread, overlapping the scan and the decoding (OpenCV
    runs without the GIL). A context manager around that work: leaving it by an error (a workspace without
    NG, too few images) waits for the import to end first, because a process that exits while TensorFlow is
    half-imported aborts ("terminate called without an active exception", SIGABRT) instead of ending with
    its one-line message."""

    def __init__(self):
        self._thread = threading.Thread(target=import_keras_quietly, name="tf-import", daemon=True)

    def __enter__(self) -> "TensorFlowImport":
        self._thread.start()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is not None:
            self._thread.join()
        return False

    def join(self) -> None:
        self._thread.join()


def relative_path(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def save_trained(store: ModelStore, model, metadata: dict, x_val: np.ndarray | None = None,
                 val_scores: np.ndarray | None = None, tflite: bytes | None = None) -> ModelInfo:
    """Save with its float TFLite model (converted here unless given, already checked) and, proven on the
    validation images, the station's fast model."""
    extra: dict[str, bytes] = {}
    try:
        tflite = tflite or keras_to_tflite(model)
    except Exception as exc:  # the Keras model is still worth keeping; `fanqc export` can retry
        tflite = None
        metadata = {**metadata, "tflite_error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    if tflite is not None and x_val is not None and val_scores is not None and len(x_val):
        try:
            fast, report = build_fast_variant(model, x_val, val_scores, metadata["threshold"])
            extra[FAST_TFLITE_FILE] = fast
            metadata = {**metadata, "fast_tflite": report}
        except Exception as exc:  # the station then judges with model.tflite, as fast as it is
            metadata = {**metadata, "fast_tflite": {"usable": False, "error": str(exc).splitlines()[0]
                                                    if str(exc) else type(exc).__name__}}
    try:
        return store.save(model, metadata, tflite, extra_files=extra)
    except OSError as exc:
        raise TrainingError(f"cannot save the model in {store.root}: {exc.strerror or exc} "
                            f"(nothing was changed in the store)") from None
