"""The training worker: a real run on its own thread, reported through plain-data signals; stop; failures."""
from __future__ import annotations

import json

import numpy as np
import pytest
from engine_helpers import shared_engine
from PySide6.QtCore import Qt, QThread

from fanqc_gui.core.dataset.scan import DatasetError
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training import engine_process
from fanqc_gui.core.training.engine_process import EngineProcess
from fanqc_gui.core.training.trainer import BatchProgress, TrainingError, TrainOptions
from fanqc_gui.workers.model_jobs import ModelJobs
from fanqc_gui.workers.training_worker import StoppedRun, TrainingWorker

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")
RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def engine():
    return shared_engine()


@pytest.fixture(autouse=True)
def no_dangling_qthreads(monkeypatch):
    started: list[QThread] = []
    original_start = QThread.start

    def start(self, *args, **kwargs):
        started.append(self)
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = [t.objectName() for t in started if _running(t)]
    assert not running, f"QThreads left running after the test: {running}"


def _running(thread: QThread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:
        return False


def _options(**changes) -> TrainOptions:
    return TrainOptions(**{"preset": "reference",
                          "image_size": 32, "epochs": 2, "batch_size": 8, "early_stopping": False, **changes})


class Recorder:
    """Every signal of a worker, in order, as plain data."""

    def __init__(self, worker: TrainingWorker):
        self.stages, self.batches, self.epochs, self.weights, self.ends = [], [], [], [], []
        worker.stage_changed.connect(self.stages.append)
        worker.batch_progressed.connect(self.batches.append)
        worker.epoch_finished.connect(self.epochs.append)
        worker.first_layer_weights_ready.connect(self.weights.append)
        for name in ("training_finished", "training_stopped", "training_failed"):
            getattr(worker, name).connect(lambda value, name=name: self.ends.append((name, value)))


def _run(qtbot, worker: TrainingWorker, on_epoch=None) -> Recorder:
    rec = Recorder(worker)
    if on_epoch:
        worker.epoch_finished.connect(on_epoch)
    with qtbot.waitSignal(worker.run_ended, timeout=RUN_TIMEOUT_MS):
        worker.start()
    assert worker.wait(10_000) and not worker.is_running()
    return rec


def _fake_active_model(store: ModelStore) -> str:
    folder = store.root / "old-model"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"name": "old", "preprocessing": {"width": 32, "height": 32}}))
    store.activate("old-model")
    return (store.root / "active.json").read_text()


@pytest.mark.slow
@needs_tf
def test_a_run_reports_every_epoch_and_saves_a_model_that_is_not_activated(qtbot, engine, demo_workspace, tmp_path):
    store = ModelStore(tmp_path / "models")
    active_before = _fake_active_model(store)
    worker = TrainingWorker(engine, open_workspace(demo_workspace), store, _options(), name="worker run")
    comparisons = []
    worker.comparison_ready.connect(comparisons.append)
    worker.comparison_failed.connect(comparisons.append)
    rec = _run(qtbot, worker)
    assert [name for name, _ in rec.ends] == ["training_finished"]
    result = rec.ends[0][1]
    assert result.model.name == "worker run" and result.model.folder.is_dir()
    assert (store.root / "active.json").read_text() == active_before  # nothing became active
    assert rec.stages[:2] == ["Reading and decoding images", "Loading TensorFlow"] and "Training" in rec.stages
    assert [m.epoch for m in rec.epochs] == [1, 2]
    assert all(isinstance(b, BatchProgress) for b in rec.batches)
    assert [b.epoch for b in rec.batches if b.batch == b.batches] == [1, 2]  # each epoch's last batch arrives
    assert len(rec.weights) == 2 and rec.weights[0].shape == (3, 3, 3, 32) and rec.weights[0].dtype == np.float32
    assert not np.array_equal(rec.weights[0], rec.weights[1])  # a copy per epoch, not a live view
    # the fake active model cannot run, so the new model is measured alone, and the reason is given
    assert len(comparisons) == 1 and comparisons[0].active is None and "old" in comparisons[0].active_error
    assert comparisons[0].new.model_id == result.model.id


@pytest.mark.slow
@needs_tf
def test_stop_ends_the_run_at_once_and_saves_nothing_unless_asked(qtbot, engine, demo_workspace, tmp_path):
    # (keeping the best model on stop is driven end to end in tests/ui/training/test_training_page.py)
    store = ModelStore(tmp_path / "models")
    active_before = _fake_active_model(store)
    worker = TrainingWorker(engine, open_workspace(demo_workspace), store, _options(epochs=200, batch_size=4))

    def stop_after_first_epoch(metrics):  # runs on the worker's thread as soon as epoch 1 is reported
        worker.request_stop(save_best=False)

    worker.epoch_finished.connect(stop_after_first_epoch, Qt.ConnectionType.DirectConnection)
    rec = _run(qtbot, worker)
    assert [name for name, _ in rec.ends] == ["training_stopped"]
    stopped: StoppedRun = rec.ends[0][1]
    assert stopped.saved is False and stopped.result.stopped
    assert stopped.result.epochs_run == 1  # stopped within epoch 2 (10 batches of 4 images)
    assert [m.id for m in store.list()] == ["old-model"] and stopped.result.model is None
    assert (store.root / "active.json").read_text() == active_before
    assert not list(store.root.glob(".saving-*"))  # no half-written model


@pytest.mark.slow
@needs_tf
def test_stop_before_the_first_batch_ends_the_run_without_training(qtbot, engine, demo_workspace, tmp_path):
    store = ModelStore(tmp_path / "models")
    worker = TrainingWorker(engine, open_workspace(demo_workspace), store, _options())
    worker.stage_changed.connect(
        lambda stage: worker.request_stop() if stage == "Reading and decoding images" else None)
    rec = _run(qtbot, worker)
    assert rec.ends == [("training_stopped", StoppedRun(None, False))]
    assert rec.epochs == [] and store.list() == []


@needs_tf
def test_too_few_images_fail_in_words(qtbot, engine, demo_workspace, tmp_path):
    for extra in sorted((demo_workspace / "NG").iterdir())[2:]:
        extra.unlink()
    worker = TrainingWorker(engine, open_workspace(demo_workspace), ModelStore(tmp_path / "models"), _options())
    rec = _run(qtbot, worker)
    assert len(rec.ends) == 1 and rec.ends[0][0] == "training_failed"
    assert "class NG has 2 usable image(s)" in rec.ends[0][1] and "at least 4" in rec.ends[0][1]


@pytest.mark.parametrize("error, message", [
    (TrainingError("the loss became NaN at epoch 2, batch 1: training diverged"), "the loss became NaN at epoch 2"),
    (TrainingError("out of memory while training: lower the batch size"), "out of memory while training"),
    (OSError(28, "No space left on device"), "cannot read or write files: No space left on device"),
    (DatasetError("class GO has 1 usable image(s)"), "class GO has 1 usable image(s)"),
    (engine_process.EngineCrashed("the training process stopped unexpectedly (exit code -9)"), "exit code -9"),
    (KeyError("boom"), "training failed unexpectedly: KeyError"),
])
def test_engine_errors_reach_the_gui_as_one_message(qtbot, monkeypatch, tmp_path, error, message):
    def failing_run(*_args, **_kwargs):
        raise error

    engine = EngineProcess()  # never started: its run is replaced
    monkeypatch.setattr(engine, "run", failing_run)
    worker = TrainingWorker(engine, open_workspace(tmp_path), ModelStore(tmp_path / "models"), _options())
    rec = _run(qtbot, worker)
    assert len(rec.ends) == 1 and rec.ends[0][0] == "training_failed" and message in rec.ends[0][1]


def test_a_run_the_engine_starts_over_is_announced_before_its_new_first_epoch(qtbot, monkeypatch, tmp_path):
    """A collapsed run is retried at a lower learning rate and its epochs count from 1 again: the GUI must
    know, or it counts the abandoned attempt's epochs with the new ones (one epoch too many)."""
    from fanqc_gui.core.training.trainer import EpochMetrics

    retry = "Training again at learning rate 0.001: the output went constant in epoch 1"
    script = [("stage", "Training"), ("epoch", 1), ("stage", retry), ("epoch", 1), ("epoch", 2)]

    def scripted_run(_kind, on_event, **_kwargs):
        for name, data in script:
            on_event(name, EpochMetrics(data, 0.5, 0.8, 0.5, 0.8, 1.0) if name == "epoch" else data)
        return None  # as a run stopped before its first epoch ends

    engine = EngineProcess()  # never started: its run is replaced
    monkeypatch.setattr(engine, "run", scripted_run)
    worker = TrainingWorker(engine, open_workspace(tmp_path), ModelStore(tmp_path / "models"), _options())
    seen = []
    worker.epoch_finished.connect(lambda m: seen.append(("epoch", m.epoch)))
    worker.training_restarted.connect(lambda why: seen.append(("restarted", why)))
    _run(qtbot, worker)
    assert seen == [("epoch", 1), ("restarted", retry), ("epoch", 1), ("epoch", 2)]


def test_batch_signals_are_throttled_but_each_epochs_last_batch_is_sent(monkeypatch):
    sent = []
    clock = [100.0]
    monkeypatch.setattr(engine_process.time, "monotonic", lambda: clock[0])
    listener = engine_process._make_listener(lambda name, b: sent.append((b.epoch, b.batch)), lambda: False)
    for epoch in (1, 2):
        for batch in range(1, 101):
            clock[0] += 0.001  # 1000 batches/s for 0.2 s
            listener.on_batch(BatchProgress(epoch, 2, batch, 100, 0, 0, 1000.0, 1.0))
    assert len(sent) <= 0.2 * engine_process.BATCH_EVENTS_PER_S + 1 + 2
    assert sent[0] == (1, 1) and (1, 100) in sent and (2, 100) in sent


@needs_tf
def test_importing_something_that_is_not_a_model_fails_in_words(qtbot, engine, tmp_path):
    bogus = tmp_path / "fan_model.h5"
    bogus.write_bytes(b"this is not HDF5")
    jobs = ModelJobs(engine, ModelStore(tmp_path / "models"))
    try:
        with qtbot.waitSignal(jobs.import_failed, timeout=RUN_TIMEOUT_MS) as blocker:
            jobs.import_h5(bogus)
        assert "fan_model.h5" in blocker.args[0]
        assert not jobs.is_busy()
    finally:
        jobs.shutdown()


@pytest.mark.slow
@needs_tf
def test_a_crashed_engine_process_is_reported_and_the_next_run_starts_a_new_one(qtbot, engine, demo_workspace,
                                                                                tmp_path):
    import os
    import signal

    store = ModelStore(tmp_path / "models")
    worker = TrainingWorker(engine, open_workspace(demo_workspace), store, _options(epochs=200))
    killed = []

    def kill_engine(metrics):
        if metrics.epoch == 1:
            killed.append(engine.pid)
            os.kill(engine.pid, signal.SIGKILL)

    worker.epoch_finished.connect(kill_engine)
    rec = _run(qtbot, worker)  # as when the PC runs out of memory and the OS kills the training process
    assert rec.ends[0][0] == "training_failed"
    assert "stopped unexpectedly (exit code -9)" in rec.ends[0][1] and "out of memory" in rec.ends[0][1]
    assert store.list() == [] and not list(store.root.glob(".saving-*"))
    again = TrainingWorker(engine, open_workspace(demo_workspace), store, _options())
    again.request_stop()  # a quick job: it only has to show that a new process answers
    assert _run(qtbot, again).ends == [("training_stopped", StoppedRun(None, False))]
    assert engine.pid not in (None, killed[0])
