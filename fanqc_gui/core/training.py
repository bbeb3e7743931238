"""Training: workspace -> scanned, split, decoded once -> reference CNN (training_loop.py) -> model store.

The GUI and the CLI follow a run through a TrainingListener (plain Python, no Qt): per-batch progress,
per-epoch metrics, and `should_stop`, checked after every batch.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from .architecture import build_reference_cnn
from .dataset import DatasetError, Problem, ScanReport, scan_workspace, split_stratified
from .decode_cache import CACHE_DIR, DecodeCache
from .evaluation import DEFAULT_TARGET_NG_RECALL, compute_metrics, default_threshold
from .export import keras_to_tflite
from .imaging import PreprocessSpec, to_model_input
from .model_store import ModelInfo, ModelStore, now_iso
from .station_model import FAST_TFLITE_FILE, build_fast_variant
from .tf_runtime import import_keras, import_tf
from .training_loop import EpochPlan, EpochResult, TrainingDiverged, TrainingStopped, run_epochs
from .workspace import Workspace


WARMUP_FRACTION = 0.25  # of all steps: the learning rate rises to its peak over the first quarter of the run
INIT_SAMPLE = 256  # training images that fit the network's starting weights


class TrainingError(RuntimeError):
    """Training could not finish; the message says why and what to do."""


@dataclass
class TrainOptions:
    image_size: int = 80
    # Four epochs, the last two over the harder half of the images (training_loop.py): the compute of three
    # full passes. Enough with the data-fitted start and the one-cycle schedule (see architecture.py).
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 2e-3  # the peak of the one-cycle schedule
    hard_example_fraction: float = 0.5  # of the training images, visited by each epoch after the second
    val_split: float = 0.2
    seed: int = 0
    augment: bool = False
    class_weighting: bool = False
    early_stopping: bool = True
    patience: int = 3
    interpolation: str = "area"
    target_ng_recall: float = DEFAULT_TARGET_NG_RECALL

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (0 < self.learning_rate < 1, "learning rate must be between 0 and 1"),
            (16 <= self.image_size <= 512, "image size must be between 16 and 512"),
            (0 < self.val_split < 0.9, "validation split must be between 0 and 0.9"),
            (self.patience >= 1, "patience must be at least 1"),
            (0 < self.target_ng_recall <= 1, "target NG recall must be in (0, 1]"),
            (0 < self.hard_example_fraction <= 1, "hard-example fraction must be in (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.spec()  # checks the interpolation name

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

    def to_dict(self) -> dict:
        return {
            "model": str(self.model.folder) if self.model else None,
            "model_id": self.model.id if self.model else None,
            "epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "seconds": round(self.seconds, 2),
            "stopped": self.stopped, "val_accuracy": self.validation.get("accuracy"),
            "val_ng_recall": self.validation.get("ng_recall"), "threshold": self.validation.get("threshold"),
            "validation": self.validation, "history": [m.to_dict() for m in self.history],
            "skipped_files": [{"path": str(p.path), "reason": p.reason} for p in self.problems],
        }


@dataclass
class PreparedData:
    report: ScanReport
    x_train: np.ndarray  # uint8 RGB at the model size
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    problems: list[Problem]
    val_paths: list[Path] = field(default_factory=list)  # in the order of x_val


def prepare_data(ws: Workspace, options: TrainOptions, listener: TrainingListener | None = None,
                 use_disk_cache: bool = True) -> PreparedData:
    listener = listener or TrainingListener()
    listener.on_stage("Reading and decoding images")
    cache = DecodeCache(options.spec(), ws.root / CACHE_DIR if use_disk_cache else None)
    report = scan_workspace(ws, listener.on_decode_progress, on_content=cache.take)
    report.require_trainable()
    split = split_stratified(report.images, options.val_split, options.seed)
    records = split.train + split.val
    pixels, labels, problems = cache.load(records, listener.on_decode_progress)
    cache.save()
    bad = {p.path for p in problems}
    n_train = sum(1 for r in split.train if r.path not in bad)
    data = PreparedData(report, pixels[:n_train], labels[:n_train], pixels[n_train:], labels[n_train:],
                        report.problems + problems, [r.path for r in split.val if r.path not in bad])
    for label, name in ((0, "GO"), (1, "NG")):
        if not np.any(data.y_train == label) or not np.any(data.y_val == label):
            raise DatasetError(f"too few readable {name} images to train and validate")
    return data


class _Progress:
    """Turns the loop's batch and epoch events into the listener's BatchProgress / EpochMetrics, keeps the
    best weights by validation loss and decides early stopping."""

    def __init__(self, listener: TrainingListener, options: TrainOptions, plan: EpochPlan):
        self.listener, self.options, self.plan = listener, options, plan
        self.t0 = self.epoch_t0 = time.perf_counter()
        self.done = 0

    def on_batch(self, epoch: int, batch: int, batches: int, images: int) -> None:
        self.done += images
        rate = self.done / max(time.perf_counter() - self.t0, 1e-6)
        total = self.plan.total_images
        self.listener.on_batch(BatchProgress(epoch + 1, self.options.epochs, batch + 1, batches, self.done, total,
                                             rate, (total - self.done) / rate if rate else 0.0))
        if self.listener.should_stop():
            raise TrainingStopped()

    def on_epoch(self, epoch: int, result: EpochResult, model, history: list[EpochMetrics], best: dict) -> bool:
        m = EpochMetrics(epoch + 1, result.loss, result.accuracy, result.val_loss, result.val_accuracy,
                         time.perf_counter() - self.epoch_t0)
        history.append(m)
        self.epoch_t0 = time.perf_counter()
        if not math.isfinite(m.val_loss):
            raise TrainingError(f"validation loss became NaN at epoch {m.epoch}: training diverged. "
                                f"Lower the learning rate (now {self.options.learning_rate:g}).")
        stop = False
        if m.val_loss < best.get("val_loss", math.inf):
            best.update(val_loss=m.val_loss, epoch=m.epoch, weights=model.get_weights(),
                        val_scores=result.val_scores, wait=0)
        else:
            best["wait"] = best.get("wait", 0) + 1
            stop = self.options.early_stopping and best["wait"] >= self.options.patience
        self.listener.on_epoch(m, model)
        return stop


def _init_sample(data: PreparedData, options: TrainOptions) -> tuple[np.ndarray, float]:
    """Training images (a fixed random subset, as the model sees them) that fit the network's start, and the
    NG share the output starts at (one half under class weighting, which balances the classes)."""
    rng = np.random.default_rng(options.seed)
    n = len(data.y_train)
    pick = np.sort(rng.choice(n, size=min(INIT_SAMPLE, n), replace=False))
    ng_fraction = 0.5 if options.class_weighting else float(np.mean(data.y_train))
    return to_model_input(data.x_train[pick]), ng_fraction


def _class_weight(y: np.ndarray) -> dict[int, float]:
    n, n_ng = len(y), float(np.sum(y))
    return {0: n / (2.0 * (n - n_ng)), 1: n / (2.0 * n_ng)}


def train(ws: Workspace, store: ModelStore, options: TrainOptions | None = None,
          listener: TrainingListener | None = None, save_if_stopped: bool | Callable[[], bool] = False,
          name: str | None = None, use_disk_cache: bool = True) -> TrainResult:
    """Train a new model on the workspace and save it into the store (never activating it)."""
    options = options or TrainOptions()
    options.validate()
    listener = listener or TrainingListener()
    t0 = time.perf_counter()
    # TensorFlow's import (seconds) overlaps with decoding, which runs in OpenCV without the GIL.
    tf_loader = threading.Thread(target=_import_quietly, name="tf-import", daemon=True)
    tf_loader.start()
    data = prepare_data(ws, options, listener, use_disk_cache)
    listener.on_stage("Loading TensorFlow")
    tf_loader.join()
    keras = import_keras()
    keras.utils.set_random_seed(options.seed)
    plan = EpochPlan(len(data.y_train), options.epochs, options.batch_size, options.hard_example_fraction,
                     options.seed)
    sample, ng_fraction = _init_sample(data, options)
    model = build_reference_cnn(options.image_size, options.learning_rate, plan.total_steps, init_sample=sample,
                                ng_fraction=ng_fraction, warmup_steps=int(plan.total_steps * WARMUP_FRACTION))
    del sample
    history: list[EpochMetrics] = []
    best: dict = {}
    progress = _Progress(listener, options, plan)
    listener.on_stage("Training")
    stopped = False
    try:
        run_epochs(model, data.x_train, data.y_train, data.x_val, data.y_val, plan, options.batch_size,
                   progress.on_batch, lambda epoch, result: progress.on_epoch(epoch, result, model, history, best),
                   class_weight=_class_weight(data.y_train) if options.class_weighting else None,
                   augment=options.augment, seed=options.seed)
    except TrainingStopped:
        stopped = True
    except TrainingDiverged as exc:
        raise TrainingError(f"{exc}: training diverged. Lower the learning rate (now {options.learning_rate:g}) "
                            f"and check the images.") from None
    except MemoryError:
        raise TrainingError("out of memory while training: lower the batch size or the image size") from None
    except Exception as exc:  # TF surfaces OOM as ResourceExhaustedError
        if type(exc).__name__ == "ResourceExhaustedError":
            raise TrainingError("out of memory while training: lower the batch size or the image size") from None
        raise
    want_save = save_if_stopped() if callable(save_if_stopped) else save_if_stopped
    if "weights" not in best or (stopped and not want_save):
        return TrainResult(None, history, len(history), best.get("epoch", 0), time.perf_counter() - t0, stopped,
                           problems=data.problems)
    if not all(np.all(np.isfinite(w)) for w in best["weights"]):
        raise TrainingError("the model's weights contain NaN or infinity: training diverged. "
                            f"Lower the learning rate (now {options.learning_rate:g}).")
    model.set_weights(best["weights"])
    listener.on_stage("Measuring on validation images")
    val_scores = best["val_scores"]  # scored with exactly these weights after their epoch
    threshold = default_threshold(data.y_val, val_scores, options.target_ng_recall)
    validation = compute_metrics(data.y_val, val_scores, threshold).to_dict()
    listener.on_stage("Saving model")
    metadata = build_metadata(ws, data, options, history, best["epoch"], validation, threshold, stopped, name)
    info = save_trained(store, model, metadata, data.x_val, val_scores)
    return TrainResult(info, history, len(history), best["epoch"], time.perf_counter() - t0, stopped, validation,
                       data.problems)


def _import_quietly() -> None:
    try:
        import_keras()
    except Exception:  # reported by the import on the training thread, with its message
        pass


def build_metadata(ws: Workspace, data: PreparedData, options: TrainOptions, history: list[EpochMetrics],
                   best_epoch: int, validation: dict, threshold: float, stopped: bool, name: str | None) -> dict:
    tf = import_tf()
    keras = import_keras()
    y_tr, y_va = data.y_train, data.y_val
    return {
        "name": name, "created": now_iso(), "source": "trained",
        "app_version": __version__, "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
        "architecture": "reference_cnn",
        "class_mapping": ws.mapping.to_dict(),
        "preprocessing": options.spec().to_dict(),
        "input_size": [options.image_size, options.image_size, 3],
        "threshold": threshold,
        "threshold_rule": {"target_ng_recall": options.target_ng_recall, "on": "validation", "max": 0.5},
        "training": {**asdict(options), "best_epoch": best_epoch, "stopped_by_user": stopped},
        "dataset": {
            "root": str(ws.root), "fingerprint": data.report.fingerprint(),
            "counts": {"train": {"GO": int(np.sum(y_tr == 0)), "NG": int(np.sum(y_tr == 1))},
                       "val": {"GO": int(np.sum(y_va == 0)), "NG": int(np.sum(y_va == 1))}},
            "skipped_files": len(data.problems), "duplicate_groups": len(data.report.duplicates),
        },
        "history": [m.to_dict() for m in history],
        "validation": validation,
        # The exact validation images (relative to the workspace), so that other models can be compared
        # on the same images and the insight page can show them.
        "validation_files": [{"path": _relative(p, ws.root), "label": int(label)}
                             for p, label in zip(data.val_paths, y_va)],
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def save_trained(store: ModelStore, model, metadata: dict, x_val: np.ndarray | None = None,
                 val_scores: np.ndarray | None = None) -> ModelInfo:
    """Save with its float TFLite model and, proven on the validation images, the station's fast model."""
    extra: dict[str, bytes] = {}
    try:
        tflite = keras_to_tflite(model)
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

