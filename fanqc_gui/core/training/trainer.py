"""Training: workspace -> scanned, split, decoded once -> reference CNN (training_loop.py) -> model store.

The GUI and the CLI follow a run through a TrainingListener (plain Python, no Qt): per-batch progress,
per-epoch metrics, and `should_stop`, checked after every batch.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fanqc_gui import __version__
from fanqc_gui.core.dataset.decode_cache import CACHE_DIR, DecodeCache
from fanqc_gui.core.dataset.scan import DatasetError, Problem, ScanReport, scan_workspace, split_stratified
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.imaging import to_model_input
from fanqc_gui.core.models.architecture import build_reference_cnn, step_scales
from fanqc_gui.core.models.evaluation import compute_metrics
from fanqc_gui.core.models.model_store import ModelStore, now_iso
from fanqc_gui.core.models.threshold_choice import ThresholdChoice, choose_threshold
from fanqc_gui.core.tf_runtime import import_keras, import_tf
from fanqc_gui.core.training.training_loop import (
    CONSTANT_SPREAD,
    EpochPlan,
    EpochResult,
    LoopData,
    LoopSettings,
    TrainingCollapsed,
    TrainingDiverged,
    TrainingStopped,
    collapse_reason,
    constant_loss,
    run_epochs,
)
from fanqc_gui.core.training.training_run import (
    BatchProgress,
    EpochMetrics,
    TensorFlowImport,
    TrainingError,
    TrainingListener,
    TrainOptions,
    TrainResult,
    relative_path,
    save_trained,
)

WARMUP_FRACTION = 0.25  # of all steps: the learning rate rises to its peak over the first quarter of the run
INIT_SAMPLE = 256  # training images that fit the network's starting weights
# The budget when the epochs follow the data (TrainOptions.epochs None): at least MIN_EPOCHS, more until the
# run takes MIN_STEPS optimizer steps, at most MAX_AUTO_EPOCHS. 4 epochs were tuned on 6,600 casting photos
# (498 steps: unchanged); 1,100 photos got 84 steps, far too few (the issue: ROC AUC 0.896 vs 0.998 with 30
# epochs). Tiny sets stop at the cap: 40 images take 32 short steps.
MIN_STEPS = 400
MIN_EPOCHS = 4
MAX_AUTO_EPOCHS = 30
AUTO_PATIENCE_SHARE = 0.25  # with the epochs following the data, early stopping waits this share of them
# Class weighting turns on by itself when either class is less than this share of the training images.
MINORITY_SHARE = 0.25
SAFER_RATE = 0.5  # a collapsed run is retried once at this fraction of the learning rate


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


@dataclass
class BestEpoch:
    """The epoch with the lowest validation loss so far, and what is kept of it."""
    epoch: int
    val_loss: float
    weights: list  # model.get_weights() after that epoch
    val_scores: np.ndarray  # validation P(NG) with exactly those weights
    loss: float  # its training loss
    steps: int  # optimizer steps taken up to its end


class _Progress:
    """Turns the loop's batch and epoch events into the listener's BatchProgress / EpochMetrics, keeps the
    history and the best epoch by validation loss, decides early stopping and stops a run that collapses."""

    def __init__(self, listener: TrainingListener, options: TrainOptions, plan: EpochPlan, patience: int,
                 y_val: np.ndarray, constant: float, learning_rate: float):
        self.listener, self.options, self.plan, self.patience = listener, options, plan, patience
        self.y_val, self.constant, self.learning_rate = y_val, constant, learning_rate
        self.t0 = self.epoch_t0 = time.perf_counter()
        self.done = 0
        self.history: list[EpochMetrics] = []
        self.best: BestEpoch | None = None
        self.epochs_without_progress = 0
        self.collapse: tuple[int, str] | None = None  # (epoch, why) where the output went constant

    def on_batch(self, epoch: int, batch: int, batches: int, images: int) -> None:
        self.done += images
        rate = self.done / max(time.perf_counter() - self.t0, 1e-6)
        total = self.plan.total_images
        self.listener.on_batch(BatchProgress(epoch + 1, len(self.plan.sizes), batch + 1, batches, self.done, total,
                                             rate, (total - self.done) / rate if rate else 0.0))
        if self.listener.should_stop():
            raise TrainingStopped()

    def on_epoch(self, epoch: int, result: EpochResult, model) -> bool:
        m = EpochMetrics(epoch + 1, result.loss, result.accuracy, result.val_loss, result.val_accuracy,
                         time.perf_counter() - self.epoch_t0)
        self.history.append(m)
        self.epoch_t0 = time.perf_counter()
        if not math.isfinite(m.val_loss):
            raise TrainingError(f"validation loss became NaN at epoch {m.epoch}: training diverged. "
                                f"Lower the learning rate (now {self.learning_rate:g}).")
        stop = False
        if m.val_loss < (self.best.val_loss if self.best else math.inf):
            self.best = BestEpoch(m.epoch, m.val_loss, model.get_weights(), result.val_scores, m.loss,
                                  sum(self.plan.batches[:epoch + 1]))
            self.epochs_without_progress = 0
        else:
            self.epochs_without_progress += 1
            stop = self.options.early_stopping and self.epochs_without_progress >= self.patience
        self.listener.on_epoch(m, model)
        if float(np.std(result.val_scores)) < CONSTANT_SPREAD:
            # Dead units do not come back: stop. The epochs before may still be good (checked after the run).
            self.collapse = (m.epoch, collapse_reason(m.epoch, m.loss, result.val_scores, self.y_val,
                                                      self.constant))
            return True
        return stop


def _init_sample(data: PreparedData, options: TrainOptions, class_weighting: bool | None = None
                 ) -> tuple[np.ndarray, float]:
    """Training images (a fixed random subset, as the model sees them) that fit the network's start, and the
    NG share the output starts at (one half under class weighting, which balances the classes)."""
    rng = np.random.default_rng(options.seed)
    n = len(data.y_train)
    pick = np.sort(rng.choice(n, size=min(INIT_SAMPLE, n), replace=False))
    weighting = options.class_weighting if class_weighting is None else class_weighting
    ng_fraction = 0.5 if weighting else float(np.mean(data.y_train))
    return to_model_input(data.x_train[pick]), ng_fraction


def _class_weight(y: np.ndarray) -> dict[int, float]:
    n, n_ng = len(y), float(np.sum(y))
    return {0: n / (2.0 * (n - n_ng)), 1: n / (2.0 * n_ng)}


def class_weighting_for(options: TrainOptions, y_train: np.ndarray) -> tuple[bool, str]:
    """(weight the classes?, why in words): the option where it is set, else on when either class is under
    MINORITY_SHARE of the training images (few NG is the usual case on a line)."""
    if options.class_weighting is not None:
        return bool(options.class_weighting), "chosen"
    ng_share = float(np.mean(y_train)) if len(y_train) else 0.5
    minority = min(ng_share, 1.0 - ng_share)
    on = minority < MINORITY_SHARE
    return on, (f"automatic: NG are {100 * ng_share:.0f} % of the training images "
                f"({'under' if on else 'at least'} {100 * MINORITY_SHARE:.0f} % for the smaller class)")


def planned_epochs(options: TrainOptions, n_train: int) -> tuple[int, str]:
    """(epochs, why in words): the option where it is set; else the fewest epochs from MIN_EPOCHS that make
    MIN_STEPS optimizer steps, at most MAX_AUTO_EPOCHS."""
    if options.epochs is not None:
        return options.epochs, "chosen"
    epochs = MIN_EPOCHS
    while epochs < MAX_AUTO_EPOCHS and EpochPlan(n_train, epochs, options.batch_size,
                                                  options.hard_example_fraction).total_steps < MIN_STEPS:
        epochs += 1
    steps = EpochPlan(n_train, epochs, options.batch_size, options.hard_example_fraction).total_steps
    return epochs, (f"automatic: {steps} steps on {n_train} training images (at least {MIN_STEPS}, "
                    f"{MIN_EPOCHS}-{MAX_AUTO_EPOCHS} epochs)")


@dataclass
class _Run:
    model: object
    history: list[EpochMetrics]
    best: BestEpoch | None  # None: stopped before the first epoch ended
    stopped: bool


def _run_reference(data: PreparedData, options: TrainOptions, listener: TrainingListener, epochs: int,
                   patience: int, weighting: bool, learning_rate: float) -> _Run:
    """One training run of the reference CNN; raises TrainingCollapsed when its output goes constant or its
    loss explodes."""
    keras = import_keras()
    keras.utils.set_random_seed(options.seed)
    plan = EpochPlan(len(data.y_train), epochs, options.batch_size, options.hard_example_fraction, options.seed)
    sample, ng_fraction = _init_sample(data, options, weighting)
    model = build_reference_cnn(options.image_size, learning_rate, plan.total_steps, init_sample=sample,
                                ng_fraction=ng_fraction, warmup_steps=int(plan.total_steps * WARMUP_FRACTION))
    del sample
    class_weight = _class_weight(data.y_train) if weighting else None
    progress = _Progress(listener, options, plan, patience, data.y_val, constant_loss(data.y_train, class_weight),
                         learning_rate)
    stopped = False
    try:
        run_epochs(model, LoopData(data.x_train, data.y_train, data.x_val, data.y_val), plan,
                   LoopSettings(options.batch_size, class_weight, options.augment, options.seed, step_scales(model)),
                   progress.on_batch, lambda epoch, result: progress.on_epoch(epoch, result, model))
    except TrainingStopped:
        stopped = True
    except TrainingDiverged as exc:
        raise TrainingError(f"{exc}: training diverged. Lower the learning rate (now {learning_rate:g}) "
                            f"and check the images.") from None
    except MemoryError:
        raise TrainingError("out of memory while training: lower the batch size or the image size") from None
    except Exception as exc:  # TF surfaces OOM as ResourceExhaustedError
        if type(exc).__name__ == "ResourceExhaustedError":
            raise TrainingError("out of memory while training: lower the batch size or the image size") from None
        raise
    best = progress.best
    if progress.collapse and best and best.epoch >= progress.collapse[0]:
        raise TrainingCollapsed(progress.collapse[1])
    if not stopped and best:  # the kept epoch must have learned something
        reason = collapse_reason(best.epoch, best.loss, best.val_scores, data.y_val,
                                 constant_loss(data.y_train, class_weight), best.steps)
        if reason:
            raise TrainingCollapsed(reason)
    return _Run(model, progress.history, best, stopped)


def train(ws: Workspace, store: ModelStore, options: TrainOptions | None = None,
          listener: TrainingListener | None = None, save_if_stopped: bool | Callable[[], bool] = False,
          name: str | None = None, use_disk_cache: bool = True) -> TrainResult:
    """Train a new model on the workspace and save it into the store (never activating it)."""
    options = options or TrainOptions()
    options.validate()
    listener = listener or TrainingListener()
    if options.preset == "pretrained":
        from fanqc_gui.core.training.pretrained_training import train_pretrained

        return train_pretrained(ws, store, options, listener, save_if_stopped, name, use_disk_cache)
    t0 = time.perf_counter()
    with TensorFlowImport() as tf_import:  # overlaps with decoding
        data = prepare_data(ws, options, listener, use_disk_cache)
        listener.on_stage("Loading TensorFlow")
        tf_import.join()
    import_keras()
    epochs, epochs_rule = planned_epochs(options, len(data.y_train))
    patience = options.patience if options.epochs is not None else max(
        options.patience, math.ceil(AUTO_PATIENCE_SHARE * epochs))
    weighting, weighting_rule = class_weighting_for(options, data.y_train)
    learning_rate, retries = options.learning_rate, []
    listener.on_stage("Training")
    while True:
        try:
            run = _run_reference(data, options, listener, epochs, patience, weighting, learning_rate)
            break
        except TrainingCollapsed as exc:
            retries.append({"learning_rate": learning_rate, "reason": str(exc)})
            if len(retries) > 1:
                raise TrainingError(
                    f"training collapsed twice, nothing was saved: {retries[0]['reason']} at learning rate "
                    f"{retries[0]['learning_rate']:g}, and {exc} at {learning_rate:g}. Try a smaller image size, "
                    f"class weighting or more images; check that the GO and NG folders hold what they should."
                ) from None
            learning_rate *= SAFER_RATE
            listener.on_stage(f"Training again at learning rate {learning_rate:g}: {exc}")
    model, history, best, stopped = run.model, run.history, run.best, run.stopped
    want_save = save_if_stopped() if callable(save_if_stopped) else save_if_stopped
    if best is None or (stopped and not want_save):
        return TrainResult(None, history, len(history), best.epoch if best else 0, time.perf_counter() - t0,
                           stopped, problems=data.problems)
    if not all(np.all(np.isfinite(w)) for w in best.weights):
        raise TrainingError("the model's weights contain NaN or infinity: training diverged. "
                            f"Lower the learning rate (now {learning_rate:g}).")
    model.set_weights(best.weights)
    listener.on_committed()
    listener.on_stage("Measuring on validation images")
    val_scores = best.val_scores  # scored with exactly these weights after their epoch
    choice = choose_threshold(data.y_val, val_scores, options.target_ng_recall, options.max_false_reject,
                              scores_from="validation")
    validation = compute_metrics(data.y_val, val_scores, choice.threshold).to_dict()
    listener.on_stage("Saving model")
    recipe = {"epochs": epochs, "epochs_rule": epochs_rule, "patience": patience, "class_weighting": weighting,
              "class_weighting_rule": weighting_rule, "learning_rate_used": learning_rate, "retries": retries,
              "dense_step_scale": next(iter(step_scales(model).values()), 1.0)}
    metadata = build_metadata(ws, data, options, history, best.epoch, validation, choice.threshold, stopped,
                              name, choice=choice, recipe=recipe)
    info = save_trained(store, model, metadata, data.x_val, val_scores)
    return TrainResult(info, history, len(history), best.epoch, time.perf_counter() - t0, stopped, validation,
                       data.problems, choice)


def build_metadata(ws: Workspace, data: PreparedData, options: TrainOptions, history: list[EpochMetrics],
                   best_epoch: int, validation: dict, threshold: float, stopped: bool, name: str | None,
                   choice: ThresholdChoice | None = None, recipe: dict | None = None) -> dict:
    """recipe: what the run resolved (epochs, class weighting, learning rate used...) over the options."""
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
        "threshold_rule": {"target_ng_recall": options.target_ng_recall, "max_false_reject": options.max_false_reject,
                           "on": choice.scores if choice else "validation", "max": 0.5},
        **({"threshold_choice": choice.to_dict()} if choice else {}),
        "training": {**asdict(options), **(recipe or {}), "best_epoch": best_epoch, "stopped_by_user": stopped},
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
        "validation_files": [{"path": relative_path(p, ws.root), "label": int(label)}
                             for p, label in zip(data.val_paths, y_va)],
    }


