"""Screenshots of the training page during and after a real run: training_running.png, training_done.png, and
the finished page as in a 1280x720 window (training_done_1280x720.png) and in the dark theme
(training_done_dark.png).

    python -m tools.screenshots.training docs/screenshots

Standalone it trains on a freshly generated demo workspace with a private model store; the app's screenshot
script can call `render_training_screenshots(out_dir, workspace, store)` instead. Where the store has no
active model, a quick baseline model is trained and activated first, so the comparison has two columns.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from fanqc_gui.ui.event_loop import wait_until as _wait
from tools.screenshots.grab import save_grab as _save

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RUNNING, DONE = "training_running.png", "training_done.png"
DONE_SMALL, DONE_DARK = "training_done_1280x720.png", "training_done_dark.png"
PRETRAINED_DONE = "training_pretrained_done.png"  # the default preset's run: folds instead of epochs
SMALL_PAGE = (1280, 660)  # the page in a 1280x720 window, less the menu bar, page tabs and status bar


def ensure_baseline(engine, workspace, store) -> None:
    """Train and activate a small, quick model when the store has no active one."""
    from fanqc_gui.core.training.trainer import TrainOptions

    if store.active() is not None:
        return
    result = engine.run("train", workspace=workspace, store_root=store.root, compare=False,
                        options=TrainOptions(preset="reference", image_size=48, epochs=2, seed=7, early_stopping=False),
                        name="Previous line model")
    store.activate(result.model.id)


def render_training_screenshots(out_dir: str | Path, workspace, store, size: tuple[int, int] = (1440, 900),
                                epochs: int = 8, running_after_epoch: int = 3) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from fanqc_gui.core.training.engine_process import EngineProcess
    from fanqc_gui.ui.training.training_page import TrainingPage

    app = QApplication.instance() or QApplication([])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = EngineProcess()
    ensure_baseline(engine, workspace, store)
    page = TrainingPage(workspace, store, engine=engine)
    page.resize(*size)
    page.show()
    written: list[Path] = []
    try:
        if not _wait(app, lambda: page.start_button.isEnabled(), 60):
            raise RuntimeError(f"training cannot start: {page.start_reason.text()}")
        form = page.options_form
        form.preset.setCurrentIndex(form.preset.findData("reference"))  # a run with epochs: curves mid-run
        form.epochs.setValue(epochs)
        page.options_form.early_stopping.setChecked(False)
        page.options_form.name.setText("Retrained with new images")
        page.start_button.click()
        during = lambda: (page.plots.epochs_shown >= running_after_epoch  # noqa: E731
                          and f"Epoch {running_after_epoch + 1}/" in page.progress.bar.format())
        if not _wait(app, during, 600):
            raise RuntimeError(f"the run did not reach epoch {running_after_epoch + 1}: "
                               f"{page.progress.stage_label.text()}")
        written.append(_save(page, out_dir / RUNNING))
        if not _wait(app, lambda: not page.is_busy() and page.comparison.comparison is not None, 600):
            raise RuntimeError(f"the run did not finish: {page.progress.stage_label.text()}")
        _wait(app, lambda: False, 0.3)  # layout and paint settle
        written.append(_save(page, out_dir / DONE))
        written += _save_small_and_dark(app, page, out_dir)
        page.resize(*size)
        form.preset.setCurrentIndex(form.preset.findData("pretrained"))
        form.name.setText("Pretrained, default options")
        page.start_button.click()
        if not _wait(app, lambda: not page.is_busy() and page.comparison.comparison is not None, 600):
            raise RuntimeError(f"the pretrained run did not finish: {page.progress.stage_label.text()}")
        _wait(app, lambda: False, 0.3)
        written.append(_save(page, out_dir / PRETRAINED_DONE))
    finally:
        page.shutdown()
        engine.close()
        page.close()
        page.deleteLater()
    return written


def _save_small_and_dark(app, page, out_dir: Path) -> list[Path]:
    from fanqc_gui.ui.theme import apply_theme, current_scheme

    page.resize(*SMALL_PAGE)
    _wait(app, lambda: False, 0.3)
    written = [_save(page, out_dir / DONE_SMALL)]
    before = current_scheme()
    apply_theme(app, "dark")
    try:
        _wait(app, lambda: False, 0.3)  # the page re-reads the theme's colours after the palette change
        written.append(_save(page, out_dir / DONE_DARK))
    finally:
        apply_theme(app, before)
    return written


def main(argv: list[str] | None = None) -> int:
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore

    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(argv[0]) if argv else Path("docs/screenshots")
    with tempfile.TemporaryDirectory(prefix="fanqc-training-screens-") as tmp:
        generate_demo_workspace(Path(tmp) / "ws")
        store = ModelStore(Path(tmp) / "models")
        for path in render_training_screenshots(out_dir, open_workspace(Path(tmp) / "ws"), store):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
