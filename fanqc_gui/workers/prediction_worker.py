"""Workspace-wide predictions on a QThread, with progress and cooperative cancel.

    worker = PredictionWorker(workspace, info)
    worker.predictions_ready.connect(...)   # core.insight.workspace_predictions.WorkspacePredictions
    worker.start()
    worker.request_stop()                   # any thread: ends after the current batch of 64 images

The predictor (LiteRT interpreter, or a Keras model for models without model.tflite) is created on the
worker's thread and never leaves it. A cancelled run still delivers the rows predicted so far
(`complete` False).
"""
from __future__ import annotations

import time

from PySide6.QtCore import Signal

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.insight.workspace_predictions import predict_workspace
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.workers.run_once import RunOnceWorker, first_line

PROGRESS_SIGNALS_PER_S = 20


class PredictionWorker(RunOnceWorker):
    progressed = Signal(int, int)  # images done, total
    predictions_ready = Signal(object)  # WorkspacePredictions (complete or, after a stop, partial)
    prediction_failed = Signal(str)

    def __init__(self, workspace: Workspace, info: ModelInfo, store: ModelStore | None = None):
        super().__init__("fanqc-predictions")
        self.workspace = workspace
        self.info = info
        self._store = store
        self._last_progress = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_progress >= 1.0 / PROGRESS_SIGNALS_PER_S:
            self._last_progress = now
            self.progressed.emit(done, total)

    def work(self) -> None:
        predictor = Predictor(self.info, store=self._store)
        self.predictions_ready.emit(predict_workspace(self.workspace, predictor, self._progress,
                                                      self.stop_requested))

    def describe(self, exc: Exception) -> str:
        if isinstance(exc, (ValueError, RuntimeError)):  # ModelStoreError, TensorFlowMissing, bad metadata
            return first_line(exc) or type(exc).__name__
        if isinstance(exc, OSError):
            return f"cannot read files: {exc.strerror or exc}"
        return f"prediction failed unexpectedly: {type(exc).__name__}: {exc}"

    def failed(self, message: str) -> None:
        self.prediction_failed.emit(message)
