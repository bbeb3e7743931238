"""Model-store jobs that need TensorFlow (import an old .h5, export TFLite), in order, on one background
thread that hands them to the engine process (TensorFlow never runs in the GUI process). Results come back as
plain data on the GUI thread.

The thread starts with the first job; `shutdown` waits for the job in progress (each one writes atomically,
so nothing is left half-done).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.core.training.engine_process import EngineProcess
from fanqc_gui.core.training.engine_protocol import Job
from fanqc_gui.workers.job_thread import LatestJobThread


@dataclass(frozen=True)
class _Job:
    kind: str  # "import", "export"
    fn: Callable[[], Any]


def _run_job(job: _Job) -> Any:
    return job.fn()


class ModelJobs(QObject):
    model_imported = Signal(object)  # ModelInfo
    import_failed = Signal(str)
    model_exported = Signal(object)  # ModelInfo
    export_failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, engine: EngineProcess, store: ModelStore, parent: QObject | None = None):
        super().__init__(parent)
        self._engine = engine
        self._store = store
        self._thread: LatestJobThread | None = None
        self._keys = itertools.count()
        self._pending = 0
        self._closed = False

    def import_h5(self, path: str | Path, mapping: ClassMapping | None = None, name: str | None = None) -> None:
        self._submit(_Job("import", lambda: self._engine.run(Job.IMPORT_H5, store_root=self._store.root,
                                                             path=Path(path), mapping=mapping, name=name)))

    def export_tflite(self, info: ModelInfo) -> None:
        self._submit(_Job("export", lambda: self._engine.run(Job.EXPORT_TFLITE, store_root=self._store.root,
                                                             info=info)))

    def is_busy(self) -> bool:
        return self._pending > 0

    def shutdown(self) -> None:
        """Drop queued jobs, wait for the one in progress, end the thread. Later jobs are ignored."""
        self._closed = True
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        if self._pending:
            self._pending = 0
            self.busy_changed.emit(False)

    def _submit(self, job: _Job) -> None:
        if self._closed:
            return
        if self._thread is None:
            self._thread = LatestJobThread(_run_job, "fanqc-model-jobs")
            self._thread.result_ready.connect(self._on_thread_result_ready)
            self._thread.start()
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._thread.submit(next(self._keys), job)  # unique keys: every job runs, in order

    @Slot(object, object, object)
    def _on_thread_result_ready(self, _key, job: _Job, result) -> None:
        if self._pending == 0:
            return  # shut down meanwhile
        self._pending -= 1
        failed = isinstance(result, Exception)
        ok_signal, fail_signal = {
            "import": (self.model_imported, self.import_failed),
            "export": (self.model_exported, self.export_failed),
        }[job.kind]
        if failed:
            fail_signal.emit(_describe(result))
        else:
            ok_signal.emit(result)
        if self._pending == 0:
            self.busy_changed.emit(False)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    if isinstance(exc, (ValueError, OSError, RuntimeError)) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no details'}"
