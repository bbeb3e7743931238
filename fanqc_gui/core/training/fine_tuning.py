"""Fine-tuning the pretrained preset's upper blocks (opt-in: TrainOptions.fine_tune, `fanqc train --fine-tune`,
the Training page's "Fine-tune the upper blocks").

Runs after the frozen run's features (cached) and head: block 10's map of every image's views is computed
once in LiteRT, then blocks 11-14 and the head train in Keras (backbone/fine_tune.py). The threshold stays
honest: every image is scored by a model fine-tuned without it (the same k folds as the frozen head), and
the saved model is fine-tuned on all images with the same number of epochs. It costs minutes where the
frozen head costs seconds: each fold trains four blocks on every image's views.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from fanqc_gui.core.dataset.scan import ImageRecord
from fanqc_gui.core.imaging import ImageError, PreprocessSpec, decode_image, resize_rgb_uint8, to_model_input
from fanqc_gui.core.models.backbone import fine_tune as nets
from fanqc_gui.core.models.backbone.features import variant
from fanqc_gui.core.models.backbone.linear_head import balanced_weights, cross_entropy, fit_head
from fanqc_gui.core.tf_runtime import import_keras
from fanqc_gui.core.training.training_run import BatchProgress, EpochMetrics, TrainingError, TrainingListener

BATCH = 16
LEARNING_RATE = 1e-4  # Adam, on weights that already work: small steps keep what ImageNet taught
STEPS = 60  # per fold: the epochs follow the data (at least MIN_EPOCHS)
MIN_EPOCHS, MAX_EPOCHS = 2, 8
MAPS_BUDGET_BYTES = 1_500_000_000  # block 10's maps of every image's views, float16, held in memory


class FineTuneStopped(Exception):
    """should_stop() answered True."""


@dataclass
class FineTuned:
    oof: np.ndarray  # every image's score by the model tuned without it
    kernel: np.ndarray  # the final head on the raw features
    bias: float
    weights: dict[str, list[np.ndarray]]  # the tuned blocks' layers
    history: list[EpochMetrics]  # one entry per fold
    epochs: int
    check_scores: np.ndarray  # the final model's scores of the first images (the saved model's check)
    seconds: float


def maps_bytes(images: int, views: int, spec: PreprocessSpec) -> int:
    h, w, c = nets.map_shape(spec.height, spec.width)
    return images * views * h * w * c * 2


def require_memory(images: int, views: int, spec: PreprocessSpec) -> None:
    """One clear message before anything runs when the maps would not fit the budget."""
    need = maps_bytes(images, views, spec)
    if need > MAPS_BUDGET_BYTES:
        raise TrainingError(f"fine-tuning {images} images ({views} view{'s' if views > 1 else ''} each at "
                            f"{spec.width}x{spec.height} px) needs {need / 1e9:.1f} GB of feature maps (the limit is "
                            f"{MAPS_BUDGET_BYTES / 1e9:.1f} GB): train without fine-tuning, or with a smaller input "
                            f"size. Nothing was trained.")


def epochs_for(n_train: int) -> int:
    steps_per_epoch = -(-n_train // BATCH)
    return int(np.clip(-(-STEPS // steps_per_epoch), MIN_EPOCHS, MAX_EPOCHS))


def fine_tune(records: Sequence[ImageRecord], spec: PreprocessSpec, views: int, x: np.ndarray, y: np.ndarray,
              fold: np.ndarray, lower_tflite: Callable[[], bytes], listener: TrainingListener, feature_model,
              seed: int = 0, check: int = 4, first_epoch: int = 1) -> FineTuned:
    """records, x (N x views x D, the frozen features), y: the images that trained the frozen head, in the same
    order; fold: each image's fold; feature_model: the frozen network (what the listener's curves show the
    filters of); first_epoch: the curves' number for the first fold (they continue the frozen head's folds).
    Raises FineTuneStopped, TrainingError."""
    t0 = time.perf_counter()
    keras = import_keras()
    listener.on_stage(f"Fine-tuning: block {nets.LOWER_TAP}'s maps of {len(records)} images")
    maps = _lower_maps(records, spec, views, lower_tflite(), listener)
    frozen = x[:, :views, :nets.frozen_dims()].mean(axis=1).astype(np.float32)
    features = x[:, :views].mean(axis=1)
    folds = int(fold.max()) + 1
    epochs = epochs_for(int(np.sum(fold != 0)))
    shape = maps.shape[2:]
    oof = np.zeros(len(y), np.float64)
    history: list[EpochMetrics] = []
    for k in range(folds + 1):  # the last pass tunes the saved model on every image
        train = fold != k if k < folds else np.ones(len(y), bool)
        label = f"fold {k + 1} of {folds}" if k < folds else "the model to save, on every image"
        listener.on_stage(f"Fine-tuning blocks {nets.TUNED_BLOCKS[0]}-{nets.TUNED_BLOCKS[-1]}: {label}")
        keras.utils.set_random_seed(seed + k)
        head = fit_head(features[train], y[train])
        model, upper = nets.build_tuner(shape, views, head)
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy",
                      metrics=["accuracy"])
        start = time.perf_counter()
        fitted = model.fit([maps[train], frozen[train]], y[train], sample_weight=balanced_weights(y[train]),
                           batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0,
                           callbacks=[_progress(listener, epochs, int(np.sum(train)))])
        if listener.should_stop():
            raise FineTuneStopped()
        loss = fitted.history["loss"][-1]
        if not np.isfinite(loss):
            raise TrainingError(f"fine-tuning diverged (loss {loss}) on {label}: nothing was saved. Train without "
                                f"fine-tuning.")
        if k < folds:
            held = ~train
            p = model.predict([maps[held], frozen[held]], batch_size=BATCH, verbose=0).reshape(-1)
            oof[held] = p
            m = EpochMetrics(first_epoch + k, float(loss), float(fitted.history["accuracy"][-1]),
                             cross_entropy(y[held], p), float(np.mean((p >= 0.5) == (y[held] > 0.5))),
                             time.perf_counter() - start)
            history.append(m)
            listener.on_epoch(m, feature_model)
    pick = slice(0, min(check, len(y)))
    check_scores = model.predict([maps[pick], frozen[pick]], verbose=0).reshape(-1)
    kernel, bias = nets.raw_head(model, head)
    return FineTuned(oof.astype(np.float32), kernel, bias, nets.tuned_weights(upper), history, epochs,
                     check_scores, time.perf_counter() - t0)


def _lower_maps(records, spec: PreprocessSpec, views: int, tflite: bytes, listener: TrainingListener
                ) -> np.ndarray:
    from fanqc_gui.core.models.backends import LiteRTBackend

    lower = LiteRTBackend(None, content=tflite)
    h, w, c = nets.map_shape(spec.height, spec.width)
    maps = np.empty((len(records), views, h, w, c), np.float16)

    def load(rec: ImageRecord):
        try:
            return resize_rgb_uint8(decode_image(rec.path), spec)
        except ImageError as exc:
            raise TrainingError(f"{rec.path} could not be read again for fine-tuning ({exc}): nothing was saved") \
                from None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i, px in enumerate(pool.map(load, records)):
            for v in range(views):
                out = lower(to_model_input(variant(px, v)[None]))
                if out.size != h * w * c:  # a converted network that is not this version's
                    raise TrainingError(f"the lower network gives {out.size} values per image, not {h}x{w}x{c}: "
                                        f"delete the converted networks (.fanqc/cache in the workspace and the "
                                        f"user's FanQC cache folder) and train again. Nothing was saved.")
                maps[i, v] = out.reshape(h, w, c)
            if i % 16 == 15 or i + 1 == len(records):
                rate = (i + 1) / max(time.perf_counter() - t0, 1e-6)
                listener.on_batch(BatchProgress(1, 1, i + 1, len(records), i + 1, len(records), rate,
                                                (len(records) - i - 1) / rate))
                if listener.should_stop():
                    raise FineTuneStopped()
    return maps


def _progress(listener: TrainingListener, epochs: int, rows: int):
    """A Keras callback: batch progress to the listener, and its stop request honoured between batches."""
    keras = import_keras()

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.t0 = epoch, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            done = min((batch + 1) * BATCH, rows)
            rate = done / max(time.perf_counter() - self.t0, 1e-6)
            listener.on_batch(BatchProgress(self.epoch + 1, epochs, batch + 1, -(-rows // BATCH),
                                            self.epoch * rows + done, epochs * rows, rate,
                                            ((epochs - self.epoch) * rows - done) / rate))
            if listener.should_stop():
                self.model.stop_training = True

    return Progress()
