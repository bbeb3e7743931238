"""Training: workspace -> scanned, split, decoded once -> tf.data -> reference CNN -> model store.

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
from .workspace import Workspace


WARMUP_FRACTION = 0.25  # of all steps: the learning rate rises to its peak over the first quarter of the run
INIT_SAMPLE = 256  # training images that fit the network's starting weights


class TrainingError(RuntimeError):
    """Training could not finish; the message says why and what to do."""


class TrainingStopped(Exception):
    """Raised inside fit when the user asked to stop."""


@dataclass
class TrainOptions:
    image_size: int = 80
    epochs: int = 4  # enough with the data-fitted start and the one-cycle schedule (see architecture.py)
    batch_size: int = 32
    learning_rate: float = 3e-3  # the peak of the one-cycle schedule
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
    listener.on_stage("Scanning images")
    report = scan_workspace(ws)
    report.require_trainable()
    split = split_stratified(report.images, options.val_split, options.seed)
    listener.on_stage("Decoding images")
    cache = DecodeCache(options.spec(), ws.root / CACHE_DIR if use_disk_cache else None)
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


class _KerasBridge:
    """Builds the Keras callback that forwards progress, honours stop and guards against NaN."""

    @staticmethod
    def make(listener: TrainingListener, options: TrainOptions, n_train: int, history: list[EpochMetrics],
             best: dict):
        keras = import_keras()
        batches = math.ceil(n_train / options.batch_size)
        total = n_train * options.epochs

        class Bridge(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0 = time.perf_counter()
                self.done = 0

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
                self.epoch_t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                loss = (logs or {}).get("loss")
                if loss is not None and not math.isfinite(float(loss)):
                    raise TrainingError(
                        f"the loss became NaN at epoch {self.epoch + 1}, batch {batch + 1}: training diverged. "
                        f"Lower the learning rate (now {options.learning_rate:g}) and check the images.")
                in_batch = min(options.batch_size, n_train - batch * options.batch_size)
                self.done += in_batch
                elapsed = max(time.perf_counter() - self.t0, 1e-6)
                rate = self.done / elapsed
                listener.on_batch(BatchProgress(self.epoch + 1, options.epochs, batch + 1, batches, self.done,
                                                total, rate, (total - self.done) / rate if rate else 0.0))
                if listener.should_stop():
                    raise TrainingStopped()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                m = EpochMetrics(epoch + 1, float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan)),
                                 float(logs.get("val_loss", np.nan)), float(logs.get("val_accuracy", np.nan)),
                                 time.perf_counter() - self.epoch_t0)
                history.append(m)
                if not math.isfinite(m.val_loss):
                    raise TrainingError(f"validation loss became NaN at epoch {m.epoch}: training diverged. "
                                        f"Lower the learning rate (now {options.learning_rate:g}).")
                if m.val_loss < best.get("val_loss", math.inf):
                    best.update(val_loss=m.val_loss, epoch=m.epoch, weights=self.model.get_weights())
                    best["wait"] = 0
                else:
                    best["wait"] = best.get("wait", 0) + 1
                    if options.early_stopping and best["wait"] >= options.patience:
                        self.model.stop_training = True
                listener.on_epoch(m, self.model)

        return Bridge()


def _datasets(data: PreparedData, options: TrainOptions):
    tf = import_tf()
    keras = import_keras()
    scale = float(to_model_input(np.array([1], np.uint8))[0])  # the same float32(1/255) as preprocess

    def to_float(x, y):
        return tf.cast(x, tf.float32) * scale, y

    train = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
    train = train.shuffle(len(data.y_train), seed=options.seed, reshuffle_each_iteration=True)
    train = train.batch(options.batch_size).map(to_float, num_parallel_calls=2)
    if options.augment:
        augment = keras.Sequential([
            keras.layers.RandomFlip("horizontal_and_vertical", seed=options.seed),
            keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=options.seed),
            keras.layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=options.seed),
        ])
        train = train.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=2)
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(256).map(to_float)
    # Fixed parallelism instead of tf.data's autotuning: the steps are a cast and a copy, and tearing down an
    # autotuned pipeline when fit returns took 2-35 s in our runs (the main thread waited in native code).
    fixed = tf.data.Options()
    fixed.autotune.enabled = False
    return (train.prefetch(2).with_options(fixed), val.cache().prefetch(2).with_options(fixed))


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
    decay_steps = math.ceil(len(data.y_train) / options.batch_size) * options.epochs
    sample, ng_fraction = _init_sample(data, options)
    model = build_reference_cnn(options.image_size, options.learning_rate, decay_steps, init_sample=sample,
                                ng_fraction=ng_fraction, warmup_steps=int(decay_steps * WARMUP_FRACTION))
    del sample
    train_ds, val_ds = _datasets(data, options)
    history: list[EpochMetrics] = []
    best: dict = {}
    bridge = _KerasBridge.make(listener, options, len(data.y_train), history, best)
    listener.on_stage("Training")
    stopped = False
    try:
        # One dataset of exactly `epochs` passes (each reshuffled) cut into epochs by steps_per_epoch: given one
        # finite epoch, Keras opens the next epoch's iterator as each epoch ends, also after the last one, and
        # an endless one keeps prefetching past the end; tearing down that unused work held fit's return for
        # 2-35 s in our runs. After the last batch this pipeline has nothing left to do.
        model.fit(train_ds.repeat(options.epochs), validation_data=val_ds, epochs=options.epochs, verbose=0, callbacks=[bridge], shuffle=False,
                  steps_per_epoch=math.ceil(len(data.y_train) / options.batch_size),
                  class_weight=_class_weight(data.y_train) if options.class_weighting else None)
    except TrainingStopped:
        stopped = True
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
    val_scores = _scores(model, data.x_val)
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


def _scores(model, x_uint8: np.ndarray) -> np.ndarray:
    tf = import_tf()
    fn = tf.function(lambda x: model(x, training=False))
    out = [fn(tf.constant(to_model_input(x_uint8[i:i + 256]))).numpy().reshape(-1)
           for i in range(0, len(x_uint8), 256)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


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

