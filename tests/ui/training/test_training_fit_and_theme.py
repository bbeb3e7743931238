"""The training page fits a 1280x720 (and 1366x768) window: readable charts, the models table at least five
rows tall, no label cut; and it follows the dark theme (plots, result cells, marks), also when switched while
shown."""
from __future__ import annotations

import json
import math

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.evaluation import compute_metrics
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.training.model_comparison import Comparison, ModelFigures
from fanqc_gui.core.training.trainer import EpochMetrics
from fanqc_gui.ui import theme
from fanqc_gui.ui.models.model_list import MIN_VISIBLE_ROWS
from fanqc_gui.ui.training.training_page import TrainingPage
from fanqc_gui.ui.training.training_page_layout import LOG_TAB, MODELS_TAB, RESULT_TAB
from fanqc_gui.ui.training.training_plots import MIN_PLOT_HEIGHT

# The window at 1280x720 and 1366x768 less its menu bar, page tabs and status bar.
PAGE_SIZES = [(1280, 660), (1366, 708)]


class IdleEngine:
    """The page's engine, never asked to run here (no TensorFlow process is started)."""
    pid = None

    def start(self) -> None:
        pass

    def new_job_id(self) -> int:
        return 1

    def request_stop(self, *_args, **_kwargs) -> None:
        pass

    def close(self, *_args, **_kwargs) -> bool:
        return True


@pytest.fixture
def light_theme_after():
    yield
    theme.apply_theme(QApplication.instance(), "light")


@pytest.fixture
def store(tmp_path):
    store = ModelStore(tmp_path / "models")
    for i, name in enumerate(["January", "February", "March", "April", "May", "June", "July"]):
        folder = store.root / f"m{i}"
        folder.mkdir(parents=True)
        meta = {"name": f"{name} model", "created": f"2026-01-0{i + 1}T08:00:00+01:00", "threshold": 0.4,
                "preprocessing": {"width": 32, "height": 32}, "validation": {"accuracy": 0.9, "ng_recall": 1.0},
                "dataset": {"counts": {"train": {"GO": 19, "NG": 19}, "val": {"GO": 5, "NG": 5}}}}
        (folder / "metadata.json").write_text(json.dumps(meta))
    store.activate("m0")  # the oldest: last in the list
    return store


@pytest.fixture
def page(qtbot, demo_workspace, store):
    """The page as after a run: curves, log and the comparison with the active model."""
    page = TrainingPage(open_workspace(demo_workspace), store, engine=IdleEngine())
    qtbot.addWidget(page)
    page.plots.clear(8)
    page.progress.start(page.options_form.options())
    for e in range(1, 6):
        m = EpochMetrics(e, 0.7 * math.exp(-e / 3), 0.6 + 0.07 * e, 0.75 * math.exp(-e / 3.5), 0.58 + 0.07 * e, 2.1)
        page.plots.add_epoch(m)
        page.progress.add_epoch(m)
    page.plots.flush()
    new = compute_metrics([0] * 5 + [1] * 5, [0.1, 0.2, 0.3, 0.2, 0.2, 0.9, 0.8, 0.7, 0.6, 0.95], 0.5)
    old = compute_metrics([0] * 5 + [1] * 5, [0.1, 0.2, 0.3, 0.6, 0.2, 0.9, 0.8, 0.7, 0.3, 0.95], 0.5)
    page.comparison.show_pending("m6", "July model")
    page.comparison.show_comparison(Comparison(ModelFigures("m6", "July model", new),
                                               ModelFigures("m0", "January model", old), 10))
    qtbot.waitUntil(lambda: page.dataset.report is not None)
    yield page
    assert page.shutdown(10_000)


def _cut_labels(page) -> list[str]:
    """Visible labels shown smaller than their text needs."""
    cut = []
    for label in page.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.wordWrap():
            short = label.height() + 1 < label.heightForWidth(label.width())
        else:
            hint = label.minimumSizeHint()
            short = label.width() + 1 < hint.width() or label.height() + 1 < hint.height()
        if short:
            cut.append(f"{label.text()[:40]!r} {label.width()}x{label.height()}")
    return cut


@pytest.mark.parametrize("size", PAGE_SIZES)
def test_the_page_fits_a_small_window_without_squashing_or_cutting(qtbot, page, size):
    width, height = size
    assert page.minimumSizeHint().width() <= width and page.minimumSizeHint().height() <= height
    page.resize(width, height)
    page.show()
    qtbot.waitExposed(page)
    assert (page.width(), page.height()) == size  # not pushed wider than the window
    for tab in (MODELS_TAB, LOG_TAB, RESULT_TAB):
        page.lower_tabs.setCurrentIndex(tab)
        QApplication.processEvents()
        assert page.plots.loss_widget.height() >= MIN_PLOT_HEIGHT
        assert page.plots.acc_widget.height() >= MIN_PLOT_HEIGHT
        assert _cut_labels(page) == [], f"tab {tab}"
    result = page.comparison
    assert result.visibleRegion().boundingRect().height() >= result.minimumSizeHint().height()  # all of it


@pytest.mark.parametrize("size", PAGE_SIZES + [(1440, 900)])
def test_the_models_table_shows_five_rows_and_the_active_model(qtbot, page, size):
    page.resize(*size)
    page.show()
    qtbot.waitExposed(page)
    page.lower_tabs.setCurrentIndex(MODELS_TAB)
    QApplication.processEvents()
    table = page.models.table
    assert table.viewport().height() >= MIN_VISIBLE_ROWS * table.rowHeight(0)
    active_row = page.models.model_ids().index("m0")  # the oldest model: the last row of seven
    table.scrollToItem(table.item(active_row, 0))
    assert table.visualItemRect(table.item(active_row, 0)).bottom() <= table.viewport().height()


def _dark(name: str) -> str:
    return theme.DARK[name]


def test_the_page_follows_the_dark_theme_while_shown(qtbot, page, light_theme_after):
    page.resize(1280, 660)
    page.show()
    page.progress.show_failed("the loss became NaN at epoch 2")
    app = QApplication.instance()
    plot_background = lambda: page.plots.loss_widget.backgroundBrush().color().name()  # noqa: E731
    assert plot_background() == theme.LIGHT["plotBackground"]
    theme.apply_theme(app, "dark")
    qtbot.waitUntil(lambda: plot_background() == _dark("plotBackground"))
    plot = page.plots.acc_widget.getPlotItem()
    assert plot.getAxis("left").textPen().color().name() == _dark("plotForeground")
    assert page.plots.loss_train.opts["pen"].color().name() == _dark("plotTrain")
    assert _dark("plotTrain") in page.plots.legend.text()
    figures = [label.styleSheet() for label in page.comparison.figures.findChildren(QLabel) if label.styleSheet()]
    assert figures and all("#ffffff" not in s and "#fafafa" not in s for s in figures)
    assert any(f"background: {_dark('cellFill')}" in s and f"color: {_dark('cellText')}" in s for s in figures)
    assert _dark("goText") in page.comparison.summary.text()  # "The new model is better"
    active_row = page.models.model_ids().index("m0")
    assert page.models.table.item(active_row, 0).foreground().color().name() == _dark("goText")
    assert f"color: {_dark('ngText')}" in page.progress.error_banner.styleSheet()
    theme.apply_theme(app, "light")
    qtbot.waitUntil(lambda: plot_background() == theme.LIGHT["plotBackground"])
    assert page.models.table.item(active_row, 0).foreground().color().name() == theme.LIGHT["goText"]
