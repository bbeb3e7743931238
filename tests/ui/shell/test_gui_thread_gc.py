"""Cyclic garbage is collected on the GUI thread only, never by a worker thread that happens to allocate."""
from __future__ import annotations

import gc
import threading

from fanqc_gui.ui.shell.gui_thread_gc import GuiThreadGarbageCollector


class _Cycle:
    collected_on: list[str] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        _Cycle.collected_on.append(threading.current_thread().name)


def test_worker_threads_never_collect_and_the_gui_thread_does(qtbot):
    collector = GuiThreadGarbageCollector(interval_ms=20)
    try:
        _Cycle.collected_on.clear()

        def make_garbage():
            for _ in range(20_000):  # far past gen-0's threshold: automatic GC would run in this thread
                _Cycle()

        worker = threading.Thread(target=make_garbage, name="worker")
        worker.start()
        worker.join()
        assert "worker" not in _Cycle.collected_on
        qtbot.waitUntil(lambda: len(_Cycle.collected_on) >= 20_000, timeout=5000)
        assert set(_Cycle.collected_on) == {threading.main_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled() or not collector._was_enabled
