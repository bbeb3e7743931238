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

import threading
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.insight.workspace_predictions import predict_workspace
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore

PROGRESS_SIGNALS_PER_S = 20


class PredictionWorker(QObject):
    progressed = Signal(int, int)  # images done, total
    predictions_ready = Signal(object)  # WorkspacePredictions (complete or, after a stop, partial)
    prediction_failed = Signal(str)
    run_ended = Signal()  # after either of the two above; the thread is finishing

    def __init__(self, workspace: Workspace, info: ModelInfo, store: ModelStore | None = None):
        super().__init__()
        self.workspace = workspace
        self.info = info
        self._store = store
        self._stop = threading.Event()
        self._last_progress = 0.0
        self._thread = QThread()
        self._thread.setObjectName("fanqc-predictions")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def request_stop(self) -> None:
        """Thread-safe: end the run after the current batch."""
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for the thread to end (True) or timeout_ms to pass (False). Never terminates it."""
        return self._thread.wait() if timeout_ms < 0 else self._thread.wait(timeout_ms)

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_progress >= 1.0 / PROGRESS_SIGNALS_PER_S:
            self._last_progress = now
            self.progressed.emit(done, total)

    @Slot()
    def _run(self) -> None:
        try:
            predictor = Predictor(self.info, store=self._store)
            result = predict_workspace(self.workspace, predictor, self._progress, self._stop.is_set)
        except (ValueError, RuntimeError) as exc:  # ModelStoreError, TensorFlowMissing, bad metadata
            self.prediction_failed.emit(_first_line(exc) or type(exc).__name__)
        except OSError as exc:
            self.prediction_failed.emit(f"cannot read files: {exc.strerror or exc}")
        except Exception as exc:  # anything else still belongs on the page, with its type
            self.prediction_failed.emit(f"prediction failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            self.predictions_ready.emit(result)
        finally:
            self.run_ended.emit()
            self.moveToThread(QCoreApplication.instance().thread())
            self._thread.quit()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
