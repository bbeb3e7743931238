"""Screenshots of anomaly mode: the Training page after a "Find anomalies (GO only)" run on a workspace whose NG
folder is empty (training_anomaly.png, and as in a 1280x720 window: training_anomaly_1280x720.png), and the
Insight page on that model with its anomaly map (insight_anomaly.png)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TRAINING, TRAINING_SMALL, INSIGHT = "training_anomaly.png", "training_anomaly_1280x720.png", "insight_anomaly.png"
SMALL_PAGE = (1280, 660)  # the page in a 1280x720 window, less the menu bar, page tabs and status bar


def _wait(app, done, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if done():
            return True
        time.sleep(0.02)
    return done()


def _save(widget, path: Path) -> Path:
    from tools.screenshots.grab import save_grab

    save_grab(widget, path)
    return path


def render_anomaly_screenshots(out_dir: str | Path, root: Path, size: tuple[int, int] = (1440, 900)) -> list[Path]:
    """root: a demo workspace; its NG images are moved to the inbox (good parts only) for the training run."""
    from PySide6.QtWidgets import QApplication

    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.training.engine_process import EngineProcess
    from fanqc_gui.ui.insight.insight_page import InsightPage
    from fanqc_gui.ui.training.training_page import TrainingPage

    app = QApplication.instance() or QApplication([])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ws = open_workspace(root)
    held_back = root / "held-back-NG"
    shutil.move(str(ws.ng_dir), held_back)
    ws.ng_dir.mkdir()
    store = ModelStore(root.parent / "anomaly-models")
    engine = EngineProcess()
    page = TrainingPage(ws, store, engine=engine)
    page.resize(*size)
    page.show()
    written: list[Path] = []
    try:
        if not _wait(app, lambda: page.dataset.anomaly_button.isVisible(), 60):
            raise RuntimeError(f"no anomaly suggestion: {page.start_reason.text()}")
        page.dataset.anomaly_button.click()
        page.options_form.input_size.setText("128")
        page.options_form.name.setText("Good parts only")
        page.start_button.click()
        if not _wait(app, lambda: not page.is_busy() and page.comparison.comparison is not None, 600):
            raise RuntimeError(f"the run did not finish: {page.progress.stage_label.text()}")
        _wait(app, lambda: False, 0.3)
        written.append(_save(page, out_dir / TRAINING))
        page.resize(*SMALL_PAGE)
        _wait(app, lambda: False, 0.3)
        written.append(_save(page, out_dir / TRAINING_SMALL))
    finally:
        page.shutdown()
        engine.close()
        page.close()
        page.deleteLater()
    for path in held_back.iterdir():  # the defects back: Insight shows what the model finds on them
        shutil.move(str(path), ws.ng_dir / path.name)
    insight = InsightPage(ws, store)
    insight.resize(*size)
    insight.show()
    try:
        if not _wait(app, lambda: insight.predictions is not None and not insight.is_busy(), 120):
            raise RuntimeError("the insight page did not predict the workspace")
        row = max((r for r in insight.table.model.rows if r.folder == "NG" and r.p_ng is not None),
                  key=lambda r: r.p_ng)
        insight.table.select_path(row.path)
        if not _wait(app, lambda: insight.gradcam.insight is not None and insight.gradcam.insight.path == row.path,
                     60):
            raise RuntimeError("no anomaly map arrived")
        _wait(app, lambda: False, 0.3)
        written.append(_save(insight, out_dir / INSIGHT))
    finally:
        insight.shutdown()
        insight.close()
        insight.deleteLater()
    return written


def main(argv: list[str] | None = None) -> int:
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else Path("docs/screenshots")
    with tempfile.TemporaryDirectory(prefix="fanqc-anomaly-screens-") as tmp:
        generate_demo_workspace(Path(tmp) / "ws")
        for path in render_anomaly_screenshots(out_dir, Path(tmp) / "ws"):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
