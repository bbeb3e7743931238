"""One background thread that runs a function on the newest request per key ("latest wins").

Used for folder listings (key = pane) and the full-size preview (one key). A request that is replaced
before it starts is dropped; a result that is already stale when it finishes is not delivered.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QThread, Signal


class LatestJobThread(QThread):
    result_ready = Signal(object, object, object)  # key, request argument, result (or the exception)

    def __init__(self, fn: Callable[[Any], Any], name: str = "fanqc-job"):
        super().__init__()
        self.setObjectName(name)
        self._fn = fn
        self._cond = threading.Condition()
        self._pending: dict[Any, Any] = {}
        self._stopping = False
        self._working = False

    def submit(self, key: Any, arg: Any) -> None:
        with self._cond:
            self._pending.pop(key, None)
            self._pending[key] = arg
            self._cond.notify()

    def is_idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._working

    def stop(self, finish_pending: bool = False) -> None:
        """Finish the current job (and, with finish_pending, the queued ones), end the thread, wait for it."""
        with self._cond:
            self._stopping = True
            if not finish_pending:
                self._pending.clear()
            self._cond.notify_all()
        self.wait()

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:  # stopping, nothing left to do
                    return
                key = next(iter(self._pending))
                arg = self._pending.pop(key)
                self._working = True
            try:
                result = self._fn(arg)
            except Exception as exc:  # delivered to the GUI thread, which reports it
                result = exc
            with self._cond:
                self._working = False
                stale = key in self._pending or self._stopping
            if not stale:
                self.result_ready.emit(key, arg, result)
