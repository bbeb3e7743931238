"""Training on the small demo workspace: progress, stop, NaN, early stopping, options.

Every run here uses 32x32 inputs and 1-3 epochs so the whole file stays within seconds.
"""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from fanqc_gui.core import training
from fanqc_gui.core.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training import TrainingError, TrainingListener, TrainOptions, train
from fanqc_gui.core.workspace import open_workspace

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]

N_TRAIN = 38  # 48 demo images, 20 % per class (5 GO + 5 NG) held out for validation


class Recorder(TrainingListener):
    def __init__(self, stop_at: tuple[int, int] | None = None, on_epoch=None):
        self.stages, self.decodes, self.batches, self.epochs = [], [], [], []
        self.stop_at = stop_at  # (epoch, batch) after which stop is requested
        self.stop_requested_at = None
        self._on_epoch = on_epoch

    def on_stage(self, text):
        self.stages.append(text)

    def on_decode_progress(self, done, total):
        self.decodes.append((done, total))

    def on_batch(self, progress):
        self.batches.append(progress)

    def on_epoch(self, metrics, model):
        self.epochs.append(metrics)
        if self._on_epoch:
            self._on_epoch(metrics, model)

    def should_stop(self):
        last = self.batches[-1]
        if self.stop_at and (last.epoch, last.batch) >= self.stop_at and self.stop_requested_at is None:
            self.stop_requested_at = len(self.batches)
        return self.stop_requested_at is not None


def _options(**changes) -> TrainOptions:
    return TrainOptions(**{"image_size": 32, "epochs": 3, "batch_size": 8, "early_stopping": False, **changes})


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory, demo_workspace_template):
    base = tmp_path_factory.mktemp("training")
    shutil.copytree(demo_workspace_template, base / "ws")
    store = ModelStore(base / "models")
    recorder = Recorder()
    result = train(open_workspace(base / "ws"), store, _options(), recorder, name="first try")
    return store, result, recorder


def test_batches_report_growing_progress_speed_and_eta(recorded_run):
    _, _, rec = recorded_run
    per_epoch = math.ceil(N_TRAIN / 8)
    hard = round(N_TRAIN * 0.5)  # the third epoch visits the harder half of the images
    assert len(rec.batches) == 2 * per_epoch + math.ceil(hard / 8)
    assert [(b.epoch, b.batch) for b in rec.batches[:per_epoch + 1]] == [
        *((1, i) for i in range(1, per_epoch + 1)), (2, 1)]
    assert {b.batches for b in rec.batches if b.epoch == 3} == {math.ceil(hard / 8)}
    done = [b.images_done for b in rec.batches]
    assert all(a < b for a, b in zip(done, done[1:]))
    assert done[-1] == rec.batches[-1].images_total == 2 * N_TRAIN + hard
    assert all(b.images_per_s > 0 and b.eta_s >= 0 for b in rec.batches)
    assert rec.batches[-1].eta_s == 0 and rec.batches[0].eta_s > 0
    assert {(b.epochs, b.batches) for b in rec.batches if b.epoch < 3} == {(3, per_epoch)}


def test_each_epoch_reports_loss_accuracy_and_validation(recorded_run):
    _, result, rec = recorded_run
    assert [m.epoch for m in rec.epochs] == [1, 2, 3]
    assert result.history == rec.epochs and result.epochs_run == 3
    for m in rec.epochs:
        assert m.loss > 0 and m.val_loss > 0 and math.isfinite(m.loss) and math.isfinite(m.val_loss)
        assert 0 <= m.accuracy <= 1 and 0 <= m.val_accuracy <= 1 and m.seconds > 0
    assert set(rec.epochs[0].to_dict()) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


def test_stages_and_decode_progress_are_reported(recorded_run):
    _, _, rec = recorded_run
    assert rec.stages == ["Reading and decoding images", "Loading TensorFlow", "Training",
                          "Measuring on validation images", "Saving model"]
    assert rec.decodes[-1] == (48, 48)


def test_run_is_saved_but_not_activated(recorded_run):
    store, result, _ = recorded_run
    assert [m.id for m in store.list()] == [result.model.id]
    assert store.active() is None
    assert result.model.name == "first try"
    d = result.to_dict()
    assert d["model"] == str(result.model.folder) and d["epochs_run"] == 3 and not d["stopped"]
    assert 0 <= d["val_accuracy"] <= 1 and d["threshold"] <= 0.5


def test_stop_is_honoured_within_one_batch_and_nothing_is_saved(demo_workspace, tmp_path):
    store = ModelStore(tmp_path / "models")
    rec = Recorder(stop_at=(2, 2))
    result = train(open_workspace(demo_workspace), store, _options(batch_size=4), rec)
    assert rec.stop_requested_at is not None
    assert len(rec.batches) == rec.stop_requested_at, "batches ran after stop was requested"
    assert result.stopped and result.model is None and result.epochs_run == 1
    assert store.list() == [] and not any(store.root.glob(".saving-*"))


def test_stopped_run_is_saved_when_the_user_asks(demo_workspace, tmp_path):
    store = ModelStore(tmp_path / "models")
    rec = Recorder(stop_at=(2, 1))
    result = train(open_workspace(demo_workspace), store, _options(batch_size=4), rec,
                   save_if_stopped=lambda: True)
    assert len(rec.batches) == rec.stop_requested_at
    assert result.stopped and result.model is not None
    assert result.model.metadata["training"]["stopped_by_user"] is True
    assert [m.id for m in store.list()] == [result.model.id]


def test_nan_loss_stops_with_a_clear_training_error(demo_workspace, tmp_path, monkeypatch):
    real_build = training.build_reference_cnn

    def poisoned_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        weights = model.get_weights()
        weights[-1][0] = np.nan  # the output neuron's bias: P(NG) and so the loss become NaN
        model.set_weights(weights)
        return model

    monkeypatch.setattr(training, "build_reference_cnn", poisoned_build)
    store = ModelStore(tmp_path / "models")
    rec = Recorder()
    with pytest.raises(TrainingError, match=r"NaN at epoch 1, batch 1.*Lower the learning rate"):
        train(open_workspace(demo_workspace), store, _options(), rec)
    assert rec.batches == [] and rec.epochs == []
    assert store.list() == [] and not any(store.root.glob(".saving-*"))


def test_early_stopping_keeps_the_best_epochs_weights(demo_workspace, tmp_path):
    best = {}

    def wreck_after_epoch_1(metrics, model):
        if metrics.epoch == 1:
            best["weights"] = [w.copy() for w in model.get_weights()]
            weights = model.get_weights()
            weights[-1][:] = 40.0  # output bias: every part now looks NG -> validation loss explodes
            model.set_weights(weights)

    store = ModelStore(tmp_path / "models")
    rec = Recorder(on_epoch=wreck_after_epoch_1)
    result = train(open_workspace(demo_workspace), store, _options(epochs=5, early_stopping=True, patience=1), rec)
    assert rec.epochs[1].val_loss > rec.epochs[0].val_loss
    assert result.epochs_run == 2 and result.best_epoch == 1
    assert result.model.metadata["training"]["best_epoch"] == 1
    saved = store.load_keras(result.model).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(saved, best["weights"]))


def test_class_weighting_and_augmentation_train_on_unbalanced_data(demo_workspace, tmp_path):
    for extra in sorted((demo_workspace / "NG").iterdir())[:16]:
        extra.unlink()  # 24 GO vs 8 NG
    store = ModelStore(tmp_path / "models")
    result = train(open_workspace(demo_workspace), store,
                   _options(epochs=2, augment=True, class_weighting=True))
    assert result.model is not None and result.epochs_run == 2
    options = result.model.metadata["training"]
    assert options["augment"] is True and options["class_weighting"] is True
    counts = result.model.metadata["dataset"]["counts"]
    assert counts == {"train": {"GO": 19, "NG": 6}, "val": {"GO": 5, "NG": 2}}


def test_class_weights_are_inverse_frequency():
    weights = training._class_weight(np.array([0, 0, 0, 1], np.float32))
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}


@pytest.mark.parametrize("change, message", [
    ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch size"), ({"learning_rate": 5.0}, "learning rate"),
    ({"image_size": 8}, "image size"), ({"val_split": 0.0}, "validation split"),
    ({"val_split": 2.0}, "validation split"), ({"patience": 0}, "patience"),
    ({"target_ng_recall": 0.0}, "target NG recall"), ({"interpolation": "magic"}, "interpolation"),
])
def test_impossible_options_are_refused_before_anything_runs(tmp_path, change, message):
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ValueError, match=message):
        train(open_workspace(tmp_path), store, TrainOptions(**change))
    assert not store.root.exists()
