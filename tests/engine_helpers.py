"""One engine process (core.training.engine_process) shared by the tests that train, so TensorFlow is imported in a
child process once per session instead of once per test."""
from __future__ import annotations

import atexit

from fanqc_gui.core.training.engine_process import EngineProcess

_engine: EngineProcess | None = None


def shared_engine() -> EngineProcess:
    global _engine
    if _engine is None:
        _engine = EngineProcess()
        _engine.start()  # TensorFlow loads in the child while the first tests run
        atexit.register(_engine.close, 30)
    return _engine
