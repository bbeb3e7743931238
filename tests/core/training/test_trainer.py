"""Training on the small demo workspace: progress, stop, NaN, early stopping, options.

Every run here uses 32x32 inputs and 1-3 epochs so the whole file stays within seconds.
"""
from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training import trainer as training
from fanqc_gui.core.training.trainer import TrainingError, TrainingListener, TrainOptions, train

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
    return TrainOptions(**{"preset": "reference",
                          "image_size": 32, "epochs": 3, "batch_size": 8, "early_stopping": False, **changes})


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory, demo_workspace_template):
    base = tmp_path_factory.mktemp("training")
    shutil.copytree(demo_workspace_template, base / "ws")
    store = ModelStore(base / "models")
    recorder = Recorder()
    # No cap on good parts rejected: the threshold rule before threshold_choice (never above 0.5).
    result = train(open_workspace(base / "ws"), store, _options(max_false_reject=1.0), recorder, name="first try")
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


# ---- budget, collapse, imbalance, threshold ------------------------------------------------------------------

def test_epochs_follow_the_data_unless_given():
    def epochs(n, **options):
        return training.planned_epochs(TrainOptions(**options), n)[0]

    assert epochs(5306) == 4  # the casting photos (6,633, a fifth held out): the tuned 4 epochs, 498 steps
    assert epochs(880) == 27 and epochs(240) == 30 and epochs(38) == 30  # 1,100 / 300 / 48 photos
    steps = training.EpochPlan(880, 27, 32, 0.5).total_steps
    assert steps >= training.MIN_STEPS > training.EpochPlan(880, 26, 32, 0.5).total_steps
    assert epochs(880, epochs=4) == 4 and training.planned_epochs(TrainOptions(epochs=4), 880)[1] == "chosen"
    assert TrainOptions().epochs is None


def test_a_run_without_epochs_trains_longer_on_few_images_and_records_why(demo_workspace, tmp_path):
    rec = Recorder()
    result = train(open_workspace(demo_workspace), ModelStore(tmp_path / "models"),
                   TrainOptions(preset="reference", image_size=32, early_stopping=False), rec)
    meta = result.model.metadata["training"]
    assert meta["epochs"] == 30 and result.epochs_run == 30 and {b.epochs for b in rec.batches} == {30}
    assert meta["epochs_rule"].startswith("automatic: ") and "38 training images" in meta["epochs_rule"]


def test_class_weighting_turns_on_by_itself_when_ng_are_few(demo_workspace, tmp_path):
    for extra in sorted((demo_workspace / "NG").iterdir())[:16]:
        extra.unlink()  # 24 GO vs 8 NG: NG are 24 % of the training images
    result = train(open_workspace(demo_workspace), ModelStore(tmp_path / "models"), _options(epochs=1))
    meta = result.model.metadata["training"]
    assert meta["class_weighting"] is True
    assert meta["class_weighting_rule"] == ("automatic: NG are 24 % of the training images (under 25 % for the "
                                            "smaller class)")
    off = train(open_workspace(demo_workspace), ModelStore(tmp_path / "models"),
                _options(epochs=1, class_weighting=False)).model.metadata["training"]
    assert off["class_weighting"] is False and off["class_weighting_rule"] == "chosen"


def test_balanced_data_is_not_weighted_and_the_threshold_choice_is_recorded(recorded_run):
    store, result, _ = recorded_run
    meta = result.model.metadata
    assert meta["training"]["class_weighting"] is False
    assert meta["training"]["class_weighting_rule"].startswith("automatic: NG are 50 %")
    choice = meta["threshold_choice"]
    assert choice["threshold"] == meta["threshold"] == result.to_dict()["threshold"]
    assert (choice["scores"], choice["n_go"], choice["n_ng"]) == ("validation", 5, 5)
    assert choice["curve"] and choice["catch_all_threshold"] is not None
    # 5 + 5 validation images cannot show a model is fit for the station, whatever its figures.
    summary = store.get(result.model.id).summary()
    assert summary["ready"] is False and result.to_dict()["ready"] is False
    assert summary["verdict"] == choice["reason"] == result.to_dict()["verdict"]
    assert "too few" in summary["verdict"] and summary["verdict"].endswith("not ready for the station")


def _dead_dense(build, times: list):
    """build_reference_cnn, but the first len(times) models have every dense unit dead (ReLU always 0): their
    output can only go constant, as the 160 px runs did."""
    def dead_build(*args, **kwargs):
        model = build(*args, **kwargs)
        times.append(kwargs.get("learning_rate", args[1] if len(args) > 1 else None))
        if len(times) <= dead_build.dead:
            layer = model.get_layer("dense")
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.full_like(bias, -1e4)])
        return model
    return dead_build


def test_a_collapsed_run_is_retried_once_at_half_the_learning_rate(demo_workspace, tmp_path, monkeypatch):
    rates: list = []
    build = _dead_dense(training.build_reference_cnn, rates)
    build.dead = 1
    monkeypatch.setattr(training, "build_reference_cnn", build)
    rec = Recorder()
    result = train(open_workspace(demo_workspace), ModelStore(tmp_path / "models"), _options(epochs=2), rec)
    assert rates == [2e-3, 1e-3]
    retry_stage = [s for s in rec.stages if s.startswith("Training again")]
    assert len(retry_stage) == 1 and retry_stage[0].startswith(
        "Training again at learning rate 0.001: the output went constant in epoch 1 (every validation image scored ")
    assert [m.epoch for m in rec.epochs] == [1, 1, 2]  # the collapsed run stopped at once
    meta = result.model.metadata["training"]
    assert meta["learning_rate"] == 2e-3 and meta["learning_rate_used"] == 1e-3
    assert len(meta["retries"]) == 1 and "output went constant" in meta["retries"][0]["reason"]


def test_a_run_that_collapses_twice_stops_with_a_clear_error_and_saves_nothing(demo_workspace, tmp_path,
                                                                                  monkeypatch):
    build = _dead_dense(training.build_reference_cnn, [])
    build.dead = 2
    monkeypatch.setattr(training, "build_reference_cnn", build)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(TrainingError, match=r"training collapsed twice, nothing was saved: the output went "
                                            r"constant in epoch 1 .* at learning rate 0.002, and .* at 0.001"):
        train(open_workspace(demo_workspace), store, _options(epochs=2))
    assert store.list() == [] and not any(store.root.glob(".saving-*"))


def test_larger_inputs_take_smaller_steps_on_the_dense_layer_only():
    from fanqc_gui.core.models.architecture import build_reference_cnn, flat_features, step_scales

    assert step_scales(build_reference_cnn(80)) == {} and step_scales(build_reference_cnn(32)) == {}
    model = build_reference_cnn(160)
    assert step_scales(model) == {"dense/kernel": pytest.approx(flat_features(80) / flat_features(160))}
    assert flat_features(160) == 92_416 == model.get_layer("dense").kernel.shape[0]


def test_a_step_scale_shrinks_exactly_that_variables_steps(tmp_path):
    from fanqc_gui.core.models.architecture import build_reference_cnn
    from fanqc_gui.core.training.training_loop import EpochPlan, LoopData, LoopSettings, run_epochs

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 1] * 8, np.float32)
    model = build_reference_cnn(32, 1e-3)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    run_epochs(model, LoopData(x, y, x, y), EpochPlan(16, 1, 8), LoopSettings(8, step_scales={"dense/kernel": 0.0}),
               lambda *a: None, lambda *a: False)
    after = {v.path: v.numpy() for v in model.trainable_variables}
    assert np.array_equal(before["dense/kernel"], after["dense/kernel"])  # scale 0: never moves
    assert not np.array_equal(before["conv1/kernel"], after["conv1/kernel"])
    assert not np.array_equal(before["dense/bias"], after["dense/bias"])


@pytest.mark.parametrize("preset", ["pretrained", "reference"])
def test_a_refused_workspace_never_leaves_tensorflow_half_imported(tmp_path, preset):
    """TensorFlow is imported on a background thread while the images are read. When the workspace is
    refused, training waits for that import before raising: a process that exits with TensorFlow
    half-imported aborts (SIGABRT) instead of ending with its message. A fresh process, as `fanqc train`."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import threading
        from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
        from fanqc_gui.core.dataset.scan import DatasetError
        from fanqc_gui.core.dataset.workspace import open_workspace
        from fanqc_gui.core.models.model_store import ModelStore
        from fanqc_gui.core.training.trainer import TrainOptions, train
        import shutil, pathlib
        ws = pathlib.Path({str(tmp_path / "ws")!r})
        generate_demo_workspace(ws, per_class=6, inbox=0, size=32)
        shutil.rmtree(ws / "NG")
        try:
            train(open_workspace(ws), ModelStore({str(tmp_path / "models")!r}), TrainOptions(preset={preset!r}))
        except DatasetError as exc:
            alive = [t.name for t in threading.enumerate() if t.name == "tf-import" and t.is_alive()]
            print("refused;", "importing" if alive else "settled")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "refused; settled"
