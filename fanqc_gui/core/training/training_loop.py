"""The training loop: which images each epoch visits, the compiled training step, per-batch progress, stop,
NaN guard, validation after each epoch and the best weights by validation loss.

A plain loop instead of `model.fit`, for one reason: every training step returns each image's own loss, and
the later epochs use those losses. The first FULL_EPOCHS epochs visit every training image once, in a new
random order each time; after that an epoch visits `hard_example_fraction` of the images, drawn at random
with a probability that rises with the loss the image had when it was last trained on (its rank, squared:
the easy ones are still drawn, rarely). On the casting photos the model already classifies most images with
a loss near zero after two epochs; spending the remaining compute on the others reached the accuracy of four
full epochs in the time of three (bench/train_speed.py; the issue notes have the figures and seeds). With
hard_example_fraction = 1 every epoch is a full pass (the classic recipe).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fanqc_gui.core.imaging import to_model_input
from fanqc_gui.core.models.evaluation import roc_auc
from fanqc_gui.core.tf_runtime import import_keras, import_tf

FULL_EPOCHS = 2  # epochs that visit every training image before the hard-example epochs start
VALIDATION_BATCH = 256
CONSTANT_SPREAD = 1e-4  # validation P(NG) with a smaller standard deviation: the output is constant
# "Learned nothing": validation ROC AUC within LEARNED_NOTHING_AUC of 0.5 while the training loss stays above
# AT_THE_PRIOR times a constant output's, or exploded beyond EXPLODED times it, after at least JUDGE_STEPS
# steps (a few steps on a few images are too noisy to judge; a constant output is judged at once).
LEARNED_NOTHING_AUC = 0.05
AT_THE_PRIOR = 0.95
EXPLODED = 3.0
JUDGE_STEPS = 100


class TrainingStopped(Exception):
    """The listener asked to stop (checked after every batch)."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where."""


class TrainingCollapsed(RuntimeError):
    """The run's output went constant, its loss exploded or it learned nothing; the message says which."""


def constant_loss(y: np.ndarray, class_weight: dict | None = None) -> float:
    """The training loss (as the loop computes it, class weights included) of the best constant output: the
    class prior's. A run that stays at it has learned nothing; one far above it has blown up."""
    y = np.asarray(y).astype(int)
    if len(y) == 0:
        return math.log(2.0)
    w = np.ones(2) if class_weight is None else np.array([class_weight[0], class_weight[1]], np.float64)
    per = w[y]
    q = float(np.clip(np.sum(per * y) / np.sum(per), 1e-7, 1 - 1e-7))
    return float(np.sum(per * -(y * math.log(q) + (1 - y) * math.log(1 - q))) / len(y))


def collapse_reason(epoch: int, loss: float, val_scores: np.ndarray, y_val: np.ndarray, constant: float,
                    steps: int = 0) -> str | None:
    """Why the model after this epoch is no model, in words, or None. steps: optimizer steps run so far (the
    "learned nothing" check needs JUDGE_STEPS; an early epoch may still be near the prior on its way down)."""
    scores = np.asarray(val_scores, dtype=np.float64)
    if len(scores) > 1 and float(np.std(scores)) < CONSTANT_SPREAD:
        return (f"the output went constant in epoch {epoch} (every validation image scored "
                f"{float(np.mean(scores)):.3f})")
    auc = roc_auc(y_val, scores)
    if steps < JUDGE_STEPS or auc is None or abs(auc - 0.5) >= LEARNED_NOTHING_AUC:
        return None
    if loss > EXPLODED * constant:
        return (f"the training loss exploded to {loss:.2f} in epoch {epoch} (a constant output scores "
                f"{constant:.2f}) and the model tells nothing apart (validation ROC AUC {auc:.2f})")
    if loss >= AT_THE_PRIOR * constant:
        return (f"the model learned nothing (validation ROC AUC {auc:.2f}; training loss {loss:.3f} in epoch "
                f"{epoch}, a constant output's is {constant:.3f})")
    return None


@dataclass(frozen=True)
class EpochResult:
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    val_scores: np.ndarray  # P(NG) of every validation image after this epoch


class EpochPlan:
    """How many images each epoch visits and which: full random passes first, then hard-example epochs."""

    def __init__(self, n_images: int, epochs: int, batch_size: int, hard_fraction: float = 1.0, seed: int = 0):
        self.n = n_images
        self.sizes = [n_images if (e < FULL_EPOCHS or hard_fraction >= 1.0) else
                      max(1, min(n_images, round(hard_fraction * n_images))) for e in range(epochs)]
        self.batches = [math.ceil(size / batch_size) for size in self.sizes]
        self.rng = np.random.default_rng(seed)

    @property
    def total_images(self) -> int:
        return sum(self.sizes)

    @property
    def total_steps(self) -> int:
        return sum(self.batches)

    def order(self, epoch: int, last_losses: np.ndarray) -> np.ndarray:
        """Indices of the training images epoch (0-based) visits, in order. last_losses: each image's loss
        when last trained on (infinite if never)."""
        size = self.sizes[epoch]
        if size >= self.n or not np.all(np.isfinite(last_losses)):
            return self.rng.permutation(self.n)[:size]
        rank = np.argsort(np.argsort(last_losses, kind="stable"), kind="stable") + 1.0  # 1 = easiest
        weight = np.square(rank / self.n)
        return self.rng.choice(self.n, size=size, replace=False, p=weight / weight.sum())


@dataclass(frozen=True)
class LoopData:
    """The images a run trains and validates on: uint8 RGB at the model's size, labels GO=0 / NG=1."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class LoopSettings:
    batch_size: int
    class_weight: dict | None = None  # {0: weight of GO, 1: weight of NG}; None: equal
    augment: bool = False
    seed: int = 0
    # {variable path: factor} multiplies the optimizer's step on those variables (architecture.step_scales)
    step_scales: dict[str, float] = field(default_factory=dict)


def run_epochs(model, data: LoopData, plan: EpochPlan, settings: LoopSettings, on_batch, on_epoch) -> None:
    """Train model (compiled with its optimizer) for len(plan.sizes) epochs.

    on_batch(epoch, batch, batches, images_in_batch) after every batch (raise TrainingStopped there to stop);
    on_epoch(epoch, EpochResult) after every epoch returns True to stop early. Epochs are 0-based here."""
    tf = import_tf()
    x_train, y_train, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    batch_size, class_weight = settings.batch_size, settings.class_weight
    train_step = _train_step(model, settings.augment, settings.seed, settings.step_scales)
    val_step = _validation_step(model)
    weights = np.ones(2, np.float32) if class_weight is None else np.array([class_weight[0], class_weight[1]],
                                                                          np.float32)
    last_losses = np.full(len(y_train), np.inf, np.float32)
    for epoch in range(len(plan.sizes)):
        order = plan.order(epoch, last_losses)
        loss_sum = correct = 0.0
        for b in range(plan.batches[epoch]):
            idx = order[b * batch_size:(b + 1) * batch_size]
            y = y_train[idx]
            w = weights[y.astype(np.int64)]
            per_image, hits = train_step(tf.constant(x_train[idx]), tf.constant(y), tf.constant(w))
            per_image = per_image.numpy()
            if not np.all(np.isfinite(per_image)):
                raise TrainingDiverged(f"the loss became NaN at epoch {epoch + 1}, batch {b + 1}")
            last_losses[idx] = per_image
            loss_sum += float(np.sum(per_image * w))
            correct += float(hits)
            on_batch(epoch, b, plan.batches[epoch], len(idx))
        val_losses, val_scores = _validate(val_step, x_val, y_val)
        size = plan.sizes[epoch]
        result = EpochResult(loss_sum / size, correct / size, float(np.mean(val_losses)),
                             float(np.mean((val_scores > 0.5) == (y_val > 0.5))), val_scores)
        if on_epoch(epoch, result):
            return


def _train_step(model, augment: bool, seed: int, step_scales: dict[str, float]):
    tf = import_tf()
    keras = import_keras()
    augmenter = None
    if augment:
        augmenter = keras.Sequential([
            keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
            keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),
            keras.layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed),
        ])
    optimizer = model.optimizer
    variables = model.trainable_variables
    scaled = [(v, float(step_scales[v.path])) for v in variables if step_scales.get(v.path, 1.0) != 1.0]

    @tf.function(reduce_retracing=True)
    def step(x_uint8, y, w):
        x = _to_float(x_uint8)
        if augmenter is not None:
            x = augmenter(x, training=True)
        with tf.GradientTape() as tape:
            p = model(x, training=True)
            per_image = keras.losses.binary_crossentropy(y[:, None], p)
            # Keras' class_weight semantics: weighted sum over the batch size.
            loss = tf.reduce_sum(per_image * w) / tf.cast(tf.shape(per_image)[0], tf.float32)
        before = [tf.identity(v) for v, _ in scaled]
        optimizer.apply(tape.gradient(loss, variables), variables)
        for (v, factor), old in zip(scaled, before):  # a smaller step, the optimizer's state unchanged
            v.assign(old + factor * (v - old))
        hits = tf.reduce_sum(tf.cast(tf.equal(tf.cast(p[:, 0] > 0.5, tf.float32), y), tf.float32))
        return per_image, hits

    return step


def _validation_step(model):
    tf = import_tf()
    keras = import_keras()

    @tf.function(reduce_retracing=True)
    def step(x_uint8, y):
        p = model(_to_float(x_uint8), training=False)
        return keras.losses.binary_crossentropy(y[:, None], p), p[:, 0]

    return step


def _validate(step, x_val, y_val) -> tuple[np.ndarray, np.ndarray]:
    tf = import_tf()
    losses, scores = [], []
    for i in range(0, len(y_val), VALIDATION_BATCH):
        loss, p = step(tf.constant(x_val[i:i + VALIDATION_BATCH]), tf.constant(y_val[i:i + VALIDATION_BATCH]))
        losses.append(loss.numpy())
        scores.append(p.numpy())
    return np.concatenate(losses), np.concatenate(scores).astype(np.float32)


def _to_float(x_uint8):
    """uint8 images -> the float32 tensor both steps feed the network: the same float32(1/255) scaling as
    `preprocess`, so the network trains on exactly what the station feeds it."""
    tf = import_tf()
    return tf.cast(x_uint8, tf.float32) * float(to_model_input(np.array([1], np.uint8))[0])


def model_input(x_uint8: np.ndarray):
    """What the training and validation steps feed the network for these uint8 images."""
    return _to_float(import_tf().constant(x_uint8))
