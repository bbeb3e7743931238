"""PySide6 6.12.0 handed None/True/False back from C++ calls without a new reference; on Python < 3.12 the
interpreter then aborted after a few thousand calls ("deallocating None"). pyproject.toml keeps that release
out; this test fails if an installed binding loses references again."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_qt_calls_keep_the_references_of_none_true_and_false(qapp):
    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True), ("False", False))}
    emitter = _Emitter()
    for i in range(20):
        obj = QObject()
        obj.setObjectName("x")  # a void C++ method: returns None
        obj.blockSignals(False)  # returns a bool
        emitter.fired.emit(i)  # returns a bool
        del obj
    after = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True), ("False", False))}
    lost = {name: before[name] - after[name] for name in before if before[name] - after[name] >= 10}
    assert not lost, f"the Qt binding lost references to {lost} in 20 rounds of calls: a known PySide6 defect is back"
