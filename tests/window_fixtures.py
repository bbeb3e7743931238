"""UI fixtures: the real application window on a copy of the demo workspace, and a dangling-thread check."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QThread


@pytest.fixture(autouse=True)
def gc_on_the_gui_thread(qapp):
    """As in the app: cyclic garbage is collected on the GUI thread only (fanqc_gui/ui/shell/gui_thread_gc.py)."""
    from fanqc_gui.app.composition import ensure_app

    # The previous test's window (closed and deleteLater'd by qtbot) goes now, not at the next event loop:
    # ensure_app() re-polishes every live widget (setStyle, setPalette, setStyleSheet).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    ensure_app()


@pytest.fixture(autouse=True)
def no_dangling_qthreads(monkeypatch):
    """Fail a test that leaves a QThread running (workers must be stopped and waited for on close).

    Autouse and independent of qtbot, so it is set up before qtbot and checked after qtbot has closed the
    test's widgets.
    """
    started: list[QThread] = []
    original_start = QThread.start

    def start(self, *args, **kwargs):
        started.append(self)
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", start)
    yield
    running = []
    for thread in started:
        try:
            if thread.isRunning():
                running.append(thread.objectName() or type(thread).__name__)
        except RuntimeError:  # the C++ object is already gone: not running
            pass
    assert not running, f"QThreads left running after the test: {running}"


@pytest.fixture
def app_parts(qtbot, demo_workspace):
    """The real window (all pages, menus, workers) with the demo workspace open and listed."""
    from fanqc_gui.app.composition import build_app, ensure_app
    from fanqc_gui.core.app_settings import AppSettings

    ensure_app()
    parts = build_app(AppSettings())
    qtbot.addWidget(parts.window)
    parts.window.resize(1280, 800)
    parts.window.show()
    qtbot.waitExposed(parts.window)
    assert parts.workspaces.open_path(demo_workspace)
    panes = parts.dataset.panes
    qtbot.waitUntil(lambda: (panes["inbox"].model.total, panes["go"].model.total, panes["ng"].model.total)
                    == (8, 24, 24))
    qtbot.waitUntil(lambda: panes["inbox"].current_path() != "")
    return parts


@pytest.fixture
def page(app_parts):
    return app_parts.dataset
