"""One training run, followed on its own QThread; the GUI sees only plain data (dataclasses, numpy arrays).

    worker = TrainingWorker(engine, workspace, store, options)
    worker.epoch_finished.connect(...)
    worker.start()
    worker.request_stop(save_best=False)   # from any thread: the run ends after the current batch

The run itself happens in the engine process (core.training.engine_process), so TensorFlow never holds this
process's GIL; this thread only waits on the pipe and turns the engine's events into signals. The Keras model
never leaves the engine: per epoch a copy of the first convolution's filters arrives instead (for the insight
page). After a saved model, the engine measures it next to the active model (`comparison_ready`).

AnomalyOptions instead of TrainOptions train an anomaly model (Job.TRAIN_ANOMALY): no epochs and no filters;
its stages and per-image progress arrive as `stage_changed` and `batch_progressed` (epoch 1 of 1).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.training.engine_process import EngineProcess
from fanqc_gui.core.training.engine_protocol import Event, Job
from fanqc_gui.core.training.trainer import TrainOptions, TrainResult
from fanqc_gui.workers.run_once import RunOnceWorker


@dataclass(frozen=True)
class StoppedRun:
    """What a stopped run left: result.model is the saved best model, or None when it was not kept."""

    result: TrainResult | None  # None: stopped before the first epoch ended (nothing to keep)
    saved: bool


class TrainingWorker(RunOnceWorker):
    stage_changed = Signal(str)
    decode_progressed = Signal(int, int)  # done, total
    batch_progressed = Signal(object)  # BatchProgress, at most 20 per second plus each epoch's last batch
    epoch_finished = Signal(object)  # EpochMetrics
    # The engine started the run over (a collapsed run is retried at a lower learning rate): its epochs count
    # from 1 again, so what was shown of the abandoned attempt no longer describes the run. str: the engine's
    # last stage text (it says why), emitted just before the new attempt's first epoch_finished.
    training_restarted = Signal(str)
    first_layer_weights_ready = Signal(object)  # np.ndarray (3, 3, 3, 32) for the reference CNN
    training_finished = Signal(object)  # TrainResult with the saved model
    training_stopped = Signal(object)  # StoppedRun
    training_failed = Signal(str)  # reason in plain words
    comparison_ready = Signal(object)  # core.training.model_comparison.Comparison, after a saved model
    comparison_failed = Signal(str)

    def __init__(self, engine: EngineProcess, workspace: Workspace, store: ModelStore,
                 options: TrainOptions | AnomalyOptions, name: str | None = None, compare: bool = True):
        super().__init__("fanqc-training")
        self._engine = engine
        self._kind = Job.TRAIN_ANOMALY if isinstance(options, AnomalyOptions) else Job.TRAIN
        self._job = {"workspace": workspace, "store_root": store.root, "options": options, "name": name,
                     "compare": compare}
        self._job_id = engine.new_job_id()
        self._relays = {
            Event.STAGE: self.stage_changed.emit,
            Event.DECODE: lambda d: self.decode_progressed.emit(*d),
            Event.BATCH: self.batch_progressed.emit,
            Event.EPOCH: self.epoch_finished.emit,
            Event.WEIGHTS: self.first_layer_weights_ready.emit,
        }
        self._after_result: list = []  # the comparison comes after the run's outcome, whatever the pipe order
        self._last_epoch = 0
        self._last_stage = ""

    @property
    def is_anomaly(self) -> bool:
        return self._kind == Job.TRAIN_ANOMALY

    def request_stop(self, save_best: bool = False) -> None:
        """Thread-safe: end the run after the current batch; keep the best model so far only if save_best."""
        super().request_stop()
        self._engine.request_stop(self._job_id, save_best)

    def _on_engine_event(self, name: str, data) -> None:
        name = Event(name)
        if name in (Event.COMPARISON, Event.COMPARISON_FAILED):
            self._after_result.append((name, data))
            return
        if name == Event.STAGE:
            self._last_stage = data
        elif name == Event.EPOCH:
            if data.epoch <= self._last_epoch:  # epoch numbers only go back when the run starts over
                self.training_restarted.emit(self._last_stage)
            self._last_epoch = data.epoch
        if (relay := self._relays.get(name)) is not None:
            relay(data)

    def work(self) -> None:
        result = self._engine.run(self._kind, self._on_engine_event, job_id=self._job_id, **self._job)
        if result is None:
            self.training_stopped.emit(StoppedRun(None, False))
        elif result.stopped:
            self.training_stopped.emit(StoppedRun(result, result.model is not None))
        else:
            self.training_finished.emit(result)

    def describe(self, exc: Exception) -> str:
        if isinstance(exc, (FanQCError, ValueError)):  # the user's: its whole message says what to do
            return str(exc)
        if isinstance(exc, OSError):
            return f"cannot read or write files: {exc.strerror or exc}"
        return f"training failed unexpectedly: {type(exc).__name__}: {exc}"

    def failed(self, message: str) -> None:
        self.training_failed.emit(message)

    def finishing(self) -> None:
        for name, data in self._after_result:
            (self.comparison_ready if name == Event.COMPARISON else self.comparison_failed).emit(data)
