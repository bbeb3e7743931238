"""The base of the workers that run one job on their own thread and end: training, workspace-wide
predictions, the demo workspace. (Workers that serve a stream of "latest wins" requests use job_thread.py.)

    worker = SomeWorker(...)            # a RunOnceWorker: its signals are connected on the GUI thread
    worker.start()                      # work() runs on the worker's own QThread
    worker.request_stop()               # any thread: work() sees stop_requested() and ends early
    worker.wait(timeout_ms)             # never terminates the thread

The worker object lives on its thread while it works (so queued slots of its own run there) and moves
back to the GUI thread before the thread ends, so the GUI thread owns and eventually deletes it. Whatever
work() raises is given to failed() as one line for the page; run_ended comes last, whatever happened.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot


class RunOnceWorker(QObject):
    run_ended = Signal()  # after the outcome's own signal; the thread is finishing

    def __init__(self, thread_name: str):
        super().__init__()  # no parent: an object with a parent cannot move to another thread
        self._stop = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(thread_name)
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def request_stop(self) -> None:
        """Thread-safe: ask work() to end at its next check."""
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for the thread to end (True) or for timeout_ms to pass (False). Never terminates it."""
        return self._thread.wait() if timeout_ms < 0 else self._thread.wait(timeout_ms)

    # ---- for subclasses ------------------------------------------------------------------------------
    def work(self) -> None:
        """The job, on the worker's thread; emits the outcome's signal itself."""
        raise NotImplementedError

    def failed(self, message: str) -> None:
        """work() raised: message is one line for the page (the exception's type when it is unexpected)."""

    def describe(self, exc: Exception) -> str:
        """The line failed() gets for exc: its first line; for an unexpected kind, with the type."""
        if isinstance(exc, OSError):
            return f"cannot read or write files: {exc.strerror or exc}"
        return first_line(exc) or type(exc).__name__

    def finishing(self) -> None:
        """Last words on the worker's thread, after the outcome and before run_ended."""

    @Slot()
    def _run(self) -> None:
        try:
            self.work()
        except Exception as exc:  # every failure belongs on the page, never in a traceback on stderr
            self.failed(self.describe(exc))
        finally:
            try:
                self.finishing()
            finally:
                self.run_ended.emit()
                # Back to the GUI thread, which owns (and eventually deletes) this object; then end the thread.
                self.moveToThread(QCoreApplication.instance().thread())
                self._thread.quit()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
