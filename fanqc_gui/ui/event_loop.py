"""Spinning the Qt event loop until a condition holds, without a test framework (the self-test and
the screenshot tools)."""
from __future__ import annotations

import time


def wait_until(app, condition, timeout_s: float) -> bool:
    """Process events until condition() is true (True) or timeout_s passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False
