"""A picture of the camera page judging a live source, for docs/screenshots and `make screenshots`."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from fanqc_gui.core.dataset.demo_data import write_demo_video
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.station_settings import Roi
from fanqc_gui.ui.station.camera_page import CameraPage


def render_camera_screenshot(path, workspace: Workspace, store: ModelStore, source: str | None = None,
                             roi=None, size: tuple[int, int] = (1440, 880), timeout_s: float = 30.0,
                             want_verdict: str | None = "NG", settle_s: float = 2.5):
    """Save a picture of the page judging `source` live (default: a generated demo video of fans with the
    ROI on the part). Waits for a logged verdict (an NG one if it comes within the timeout)."""
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            source = str(Path(tmp) / "conveyor.avi")
            write_demo_video(source, parts=24, seed=5)
            roi = roi or Roi(220, 140, 200, 200)
        page = CameraPage(workspace, store, station_name="screenshot")
        page.resize(*size)
        page.show()
        if roi is not None:
            page.set_roi(roi)
        page.start(SourceSpec.parse(source), realtime=True, loop=True)
        deadline = time.monotonic() + timeout_s
        settle = time.monotonic() + settle_s  # fps, latency and a few logged rows with thumbnails

        def wanted(v) -> bool:  # a clear-cut verdict of the wanted kind
            return v is not None and (want_verdict is None or v.verdict == want_verdict and abs(v.p_ng - 0.5) > 0.4)

        while time.monotonic() < deadline and page.worker is not None:
            _spin(app, 0.01)
            if time.monotonic() > settle and wanted(page.last_verdict):
                page.worker.set_paused(True)  # hold the picture: the frame and its verdict stay together
                _spin(app, 0.2)
                if wanted(page.last_verdict):
                    break
                page.worker.set_paused(False)
        _spin(app, 0.7)  # the log commits the last verdicts within 0.5 s
        page.log_view.refresh()
        _spin(app, 1.0, until=lambda: page.thumbnails.pending_count() == 0)  # thumbnails of the captures
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        ok = page.grab().save(str(path))
        page.shutdown()
        page.deleteLater()
        app.processEvents()
    if not ok:
        raise OSError(f"cannot write {path}")
    return Path(path)


def _spin(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.01)
