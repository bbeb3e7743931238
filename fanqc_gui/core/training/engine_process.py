"""TensorFlow work in a child process: training (a GO/NG classifier or an anomaly model, then the comparison
with the active model), .h5 import and TFLite export.

TensorFlow holds the GIL for long stretches (tracing, the TFLite converter: hundreds of ms), which would
freeze a GUI running in the same process. In a child process it cannot, and a run that dies (out of memory,
a crash in native code) takes only the child with it. The process is spawned on the first job (or by
`start()`, to have TensorFlow loaded before it is needed: the child imports it in the background as soon as it
starts) and kept warm for the next job; one job runs at a time.

    engine = EngineProcess()
    job = engine.new_job_id()
    result = engine.run(Job.TRAIN, on_event, job_id=job, workspace=ws, store_root=..., options=..., name=None)
    engine.request_stop(job, save_best=False)   # from any thread: that run ends after its current batch
    engine.close()

Jobs and events are named in engine_protocol.py (Job, Event). Events (Event, data) reach `on_event` on the
calling thread; "batch" at most BATCH_EVENTS_PER_S (and always each epoch's last). No Qt here.

The child is started with multiprocessing's "spawn" (never fork a process that has Qt or TF threads), which
imports the main module again: a script that uses the engine must guard its entry point with
`if __name__ == "__main__":`, and a frozen build must call multiprocessing.freeze_support() first.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from typing import Any, Callable

import numpy as np

from fanqc_gui.core.errors import FanQCError, error_class
from fanqc_gui.core.training.engine_protocol import Event, Job

BATCH_EVENTS_PER_S = 20
# The child runs at a lower CPU priority: while it trains flat out, the GUI (and the camera station, in the
# same process as the GUI) still get a core the moment they need one. Alone, the child loses no speed.
CHILD_NICENESS = 10
EventFn = Callable[[str, Any], None]


class EngineCrashed(FanQCError, RuntimeError):
    """The engine process ended in the middle of a job."""


class _StopBeforeTraining(Exception):
    pass


def first_conv_weights(model) -> np.ndarray | None:
    """A copy of the first Conv2D's kernel (kh, kw, in, out), or None when the model has none."""
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            return np.array(layer.get_weights()[0], dtype=np.float32, copy=True)
    return None


# ---- the child -------------------------------------------------------------------------------------------
def _make_listener(send: EventFn, stopped: Callable[[], bool]):
    from fanqc_gui.core.training.trainer import TrainingListener

    class ChildListener(TrainingListener):
        last_batch = 0.0
        committed = False  # past the point of no return: a stop no longer abandons the run

        def on_stage(self, text):
            if stopped() and not self.committed:
                raise _StopBeforeTraining()
            send(Event.STAGE, text)

        def on_committed(self):
            self.committed = True
            send(Event.COMMITTED, None)

        def on_decode_progress(self, done, total):
            if stopped():
                raise _StopBeforeTraining()
            send(Event.DECODE, (done, total))

        def on_batch(self, progress):
            now = time.monotonic()
            if progress.batch == progress.batches or now - self.last_batch >= 1.0 / BATCH_EVENTS_PER_S:
                self.last_batch = now
                send(Event.BATCH, progress)

        def on_epoch(self, metrics, model):
            send(Event.EPOCH, metrics)
            weights = first_conv_weights(model)
            if weights is not None:
                send(Event.WEIGHTS, weights)

        def should_stop(self):
            return stopped()

    return ChildListener()


def _train_job(send: EventFn, stopped, save_best, workspace, store_root, options, name=None, compare=True):
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.training.trainer import train

    store = ModelStore(store_root)
    try:
        result = train(workspace, store, options, _make_listener(send, stopped),
                       save_if_stopped=lambda: bool(save_best.value), name=name)
    except _StopBeforeTraining:
        return None
    if compare and result.model is not None:
        _compare(send, result.model, store, workspace)
    return result


def _compare(send: EventFn, model, store, workspace) -> None:
    """The saved model measured next to the active one (COMPARISON), or why it could not be."""
    from fanqc_gui.core.training.model_comparison import compare_models

    send(Event.STAGE, "Comparing with the active model")
    try:
        send(Event.COMPARISON, compare_models(model, store.active(), workspace.root))
    except Exception as exc:  # the model is saved; only the comparison is missing
        send(Event.COMPARISON_FAILED, _describe(exc))


def _train_anomaly_job(send: EventFn, stopped, save_best, workspace, store_root, options, name=None,
                       compare=True):
    """An anomaly model from the GO folder alone (core.training.anomaly_training). It has no epochs: its
    stages and per-image progress arrive as STAGE and BATCH events (epoch 1 of 1), and a stop before the
    save keeps nothing (there is no "best epoch" to keep)."""
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.training.anomaly_training import train_anomaly

    store = ModelStore(store_root)
    try:
        result = train_anomaly(workspace, store, options, _make_listener(send, stopped), name=name)
    except _StopBeforeTraining:
        return None
    if compare and result.model is not None:
        _compare(send, result.model, store, workspace)
    return result


def _import_job(send, stopped, save_best, store_root, path, mapping=None, name=None):
    from fanqc_gui.core.models.export import import_h5
    from fanqc_gui.core.models.model_store import ModelStore

    return import_h5(ModelStore(store_root), path, mapping, name)


def _export_job(send, stopped, save_best, store_root, info):
    from fanqc_gui.core.models.export import export_tflite
    from fanqc_gui.core.models.model_store import ModelStore

    return export_tflite(ModelStore(store_root), info)


_JOBS = {Job.TRAIN: _train_job, Job.TRAIN_ANOMALY: _train_anomaly_job, Job.IMPORT_H5: _import_job,
         Job.EXPORT_TFLITE: _export_job}


def _import_tensorflow() -> None:
    from fanqc_gui.core.tf_runtime import import_keras

    try:
        import_keras()
    except Exception:  # reported by the first job that needs TensorFlow, with its message
        pass


def _serve(conn, stop_job, save_best) -> None:
    """The child's loop: one job at a time until None (or the parent's end of the pipe closes)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if hasattr(os, "nice"):
        try:
            os.nice(CHILD_NICENESS)
        except OSError:
            pass
    threading.Thread(target=_import_tensorflow, name="tf-import", daemon=True).start()

    def send(name, data):
        conn.send(("event", name, data))

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        kind, job_id, kwargs = job

        def stopped(job_id=job_id) -> bool:
            return stop_job.value == job_id

        try:
            reply = ("done", _JOBS[Job(kind)](send, stopped, save_best, **kwargs))
        except BaseException as exc:  # reported to the parent, which raises it there
            reply = ("failed", type(exc).__name__, str(exc), getattr(exc, "errno", None),
                     getattr(exc, "strerror", None), type(exc).__module__)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


# ---- the parent ------------------------------------------------------------------------------------------
def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rebuild(name: str, message: str, errno, strerror, module: str = "") -> BaseException:
    """The child's exception as the parent raises it: an OSError with its errno, a FanQCError as its own
    class (so the page and the CLI show its message), MemoryError and ValueError as themselves, anything
    else as a RuntimeError naming its type."""
    if errno is not None or name in ("OSError", "PermissionError", "FileNotFoundError"):
        return OSError(errno, strerror or message)
    cls = error_class(module, name) or {"ValueError": ValueError, "MemoryError": MemoryError}.get(name)
    return cls(message) if cls else RuntimeError(f"{name}: {message}")


class EngineProcess:
    def __init__(self):
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt or TF threads
        self._stop_job = self._ctx.Value("q", 0, lock=False)  # the id of the job asked to stop
        self._save_best = self._ctx.Value("b", 0, lock=False)
        self._ids = itertools.count(1)
        self._current_job = 0
        self._proc = None
        self._conn = None
        self._job_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def start(self) -> None:
        """Spawn the process now (it loads TensorFlow in the background) unless it runs already."""
        if self._job_lock.acquire(blocking=False):
            try:
                self._start_if_needed()
            finally:
                self._job_lock.release()

    def new_job_id(self) -> int:
        return next(self._ids)

    def run(self, kind: str, on_event: EventFn | None = None, job_id: int | None = None, **kwargs) -> Any:
        """Run one job in the child and return its result; raises what the job raised there, or EngineCrashed.
        A job whose id was already asked to stop starts stopped (training returns None at once)."""
        job_id = job_id if job_id is not None else self.new_job_id()
        with self._job_lock:
            proc, conn = self._start_if_needed()
            self._current_job = job_id
            try:
                conn.send((kind, job_id, kwargs))
                while True:
                    reply = conn.recv()
                    if reply[0] != "event":
                        break
                    if on_event is not None:
                        on_event(reply[1], reply[2])
            except (EOFError, OSError):
                raise self._crashed(proc) from None
        if reply[0] == "failed":
            raise _rebuild(*reply[1:])
        return reply[1]

    def request_stop(self, job_id: int | None = None, save_best: bool = False) -> None:
        """Thread-safe. Training job job_id (default: the one running) ends after its current batch and keeps
        its best model if save_best."""
        self._save_best.value = int(bool(save_best))
        self._stop_job.value = job_id if job_id is not None else self._current_job

    def close(self, timeout_s: float = 60.0) -> bool:
        """Stop the job in progress (nothing saved), end the child, wait for it. A child still busy after
        timeout_s is killed (a model save in progress is abandoned whole: the store writes models atomically).
        True when it ended by itself."""
        self.request_stop(save_best=False)
        idle = self._job_lock.acquire(timeout=timeout_s)
        try:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
            if proc is None:
                return True
            if idle:
                try:
                    conn.send(None)
                except OSError:
                    pass
                proc.join(timeout_s)
            clean = not proc.is_alive()
            if not clean:
                proc.kill()  # the job's thread then gets EOF and reports EngineCrashed
                proc.join(5)
            if idle:
                conn.close()
            return clean
        finally:
            if idle:
                self._job_lock.release()

    def _start_if_needed(self):
        if self._proc is None or not self._proc.is_alive():
            parent_end, child_end = self._ctx.Pipe()
            self._proc = self._ctx.Process(target=_serve, args=(child_end, self._stop_job, self._save_best),
                                           name="fanqc-engine", daemon=True)
            self._proc.start()
            child_end.close()
            self._conn = parent_end
        return self._proc, self._conn

    def _crashed(self, proc) -> EngineCrashed:
        proc.join(5)
        code = proc.exitcode
        if self._proc is proc:
            self._proc = self._conn = None
        hint = (" This usually means the PC ran out of memory: lower the batch size or the image size."
                if code is not None and code < 0 else "")
        return EngineCrashed(f"the training process stopped unexpectedly (exit code {code}).{hint}")
