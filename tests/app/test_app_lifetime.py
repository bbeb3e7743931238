"""The window launched by the app lives until it is closed, even when the caller drops what launch() returned
(`main()` once did: the garbage collector then deleted the window with the demo builder's thread running)."""
from __future__ import annotations

import gc

from fanqc_gui.app import composition as app_module


def test_launched_window_survives_a_collection_while_the_demo_workspace_is_built(qapp, qtbot):
    parts = app_module.launch()
    window = parts.window
    qtbot.addWidget(window)  # a weak reference: deleted after the test (a closed window is never deleted itself)
    builder = parts.workspaces.demo_builder
    assert builder is not None and builder.is_running(), "an empty profile builds the demo workspace"
    del parts
    gc.collect()
    qtbot.waitUntil(lambda: not builder.is_running(), timeout=60_000)
    assert window.isVisible()
    qtbot.waitUntil(lambda: "demo-workspace" in window.windowTitle(), timeout=10_000)
    window.close()
    assert not app_module._running, "a closed window's parts are released"
