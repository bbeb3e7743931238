"""Worker tests run Qt threads: cyclic garbage is collected on the GUI thread only, as in the app."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def gc_on_the_gui_thread(qapp):
    from PySide6.QtCore import QCoreApplication, QEvent

    from fanqc_gui.app.composition import ensure_app

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the previous test's widgets, now
    ensure_app()
