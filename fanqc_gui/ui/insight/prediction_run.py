"""The "Predict workspace" bar: start / cancel buttons and a progress bar over one PredictionWorker at a time.

Starting while a run is in progress stops that run (after its current batch) and starts again when it
has ended; only the newest run's result is delivered. `discard` stops a run whose result nobody wants any
more (another workspace opened): it delivers nothing and leaves the bar showing the given text.
"""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.insight.workspace_predictions import WorkspacePredictions
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.workers.prediction_worker import PredictionWorker


class PredictionRunBar(QWidget):
    predictions_ready = Signal(object)  # WorkspacePredictions of the newest run
    prediction_failed = Signal(str)
    start_requested = Signal()  # the button: the page decides what to predict with

    def __init__(self, store: ModelStore, parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store
        self._worker: PredictionWorker | None = None
        self._next: tuple[Workspace, ModelInfo] | None = None
        self._closed = False
        self._discarding: tuple[str, bool] | None = None  # (idle text, can start) once the discarded run ends
        self.predict_button = QPushButton("Predict workspace")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar(textVisible=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.predict_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.progress, 1)
        self.predict_button.clicked.connect(self.start_requested)
        self.cancel_button.clicked.connect(self.cancel)
        self.set_idle("Not predicted yet", can_start=False)

    def is_running(self) -> bool:
        return self._worker is not None

    def start(self, workspace: Workspace, info: ModelInfo) -> None:
        if self._closed:
            return
        if self._worker is not None:
            self._next = (workspace, info)
            self._worker.request_stop()
            return
        self._worker = PredictionWorker(workspace, info, self._store)
        self._worker.progressed.connect(self._on_worker_progressed)
        self._worker.predictions_ready.connect(self._on_worker_predictions_ready)
        self._worker.prediction_failed.connect(self._on_worker_prediction_failed)
        self._worker.run_ended.connect(self._on_worker_run_ended)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"Predicting with {info.name}…")
        self._worker.start()
        self._update_buttons(True)

    @Slot()
    def cancel(self) -> None:
        self._next = None
        if self._worker is not None:
            self._worker.request_stop()
            self._update_buttons(True)

    def discard(self, text: str, can_start: bool) -> None:
        """Stop the run in progress without delivering its result; show `text` as when idle."""
        self._next = None
        if self._worker is not None:
            self._discarding = (text, can_start)
            self._worker.request_stop()
        self._show_text(text)
        self._update_buttons(can_start)

    def set_idle(self, text: str, can_start: bool) -> None:
        """Show a message in the bar (no run in progress)."""
        if self._discarding is not None:
            self._discarding = (text, can_start)
        if self._worker is None or self._discarding is not None:
            self._show_text(text)
        self._update_buttons(can_start)

    def _show_text(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the run and wait for its thread (never terminates it). True when it ended in time."""
        self._closed = True
        self._next = None
        if self._worker is None:
            return True
        self._worker.request_stop()
        return self._worker.wait(timeout_ms)

    def _update_buttons(self, can_start: bool) -> None:
        running = self._worker is not None
        self.predict_button.setEnabled(can_start and not running and not self._closed)
        self.cancel_button.setEnabled(running and not self._worker.stop_requested())

    @Slot(int, int)
    def _on_worker_progressed(self, done: int, total: int) -> None:
        if self._discarding is not None:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"Predicting: {done:,} of {total:,} images")

    @Slot(object)
    def _on_worker_predictions_ready(self, result: WorkspacePredictions) -> None:
        if self._next is not None or self._closed or self._discarding is not None:
            return  # superseded by a newer run, or discarded
        n = len(result.rows)
        rate = n / result.seconds if result.seconds > 0 else 0.0
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(n)
        self.progress.setFormat(f"{n:,} images predicted in {result.seconds:.1f} s ({rate:,.0f}/s, {result.backend})"
                                + ("" if result.complete else " — cancelled: partial results"))
        self.predictions_ready.emit(result)

    @Slot(str)
    def _on_worker_prediction_failed(self, message: str) -> None:
        if self._next is None and self._discarding is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat(f"⚠ {message}")
            self.prediction_failed.emit(message)

    @Slot()
    def _on_worker_run_ended(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        follow, self._next = self._next, None
        discarded, self._discarding = self._discarding, None
        if follow is not None and not self._closed:
            self.start(*follow)
        elif discarded is not None:
            self._update_buttons(discarded[1])
        else:
            self._update_buttons(True)
