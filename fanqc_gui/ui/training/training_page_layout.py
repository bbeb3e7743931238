"""Where the training page's parts sit, so that it fits a 1280x720 window without squashing anything:

    +-------------------+----------------------------------------------+
    | 1. Images         | Start / Stop, progress                       |
    | 2. Options | Net  | 3. Learning curves (never below 180 px)      |
    | (scrolls)         |                                              |
    +-------------------+----------------------------------------------+
    | Models | Epoch log | 4. Result: compare and activate   (tabs)    |
    +------------------------------------------------------------------+

Both borders are splitters the user can drag; no part collapses to nothing. The lower tabs show the models
when idle, the log during a run and the result after it (the page switches them).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

MODELS_TAB, LOG_TAB, RESULT_TAB = 0, 1, 2
SETUP_WIDTH = 440


def _group(title: str, widget: QWidget, stretch: bool = False) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 4, 6, 6)
    layout.addWidget(widget, 1 if stretch else 0)
    return box


def _splitter(orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
    splitter = QSplitter(orientation)
    splitter.setChildrenCollapsible(False)  # a part dragged too far stops at its minimum size
    for widget in widgets:
        splitter.addWidget(widget)
    return splitter


class _SetupScroll(QScrollArea):
    """A scroll area whose content is always as tall as its wrapped texts need at the width it really gets.

    QScrollArea sizes a resizable widget by its height for the viewport's width *before* a vertical scroll bar
    takes its share; once the bar shows, the texts wrap to more lines than they were given room for and are
    cut. Here the content's minimum height follows the width left beside the bar."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        widget = self.widget()
        if widget is not None and widget.hasHeightForWidth():
            height = widget.heightForWidth(self.viewport().width())
            if height > 0 and widget.minimumHeight() != height:
                widget.setMinimumHeight(height)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self, self._fit)  # the content changed (rows shown or hidden, longer texts)
        return super().eventFilter(watched, event)


def _setup_column(page) -> tuple[QScrollArea, QTabWidget]:
    setup = QWidget()
    setup_layout = QVBoxLayout(setup)
    setup_layout.setContentsMargins(0, 0, 4, 0)
    setup_layout.addWidget(_group("1. Images to train on", page.dataset))
    setup_tabs = QTabWidget()
    setup_tabs.addTab(page.options_form, "2. Options")
    setup_tabs.addTab(page.architecture, "The network (layers)")
    setup_layout.addWidget(setup_tabs, 1)
    scroll = _SetupScroll(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(setup)
    setup.installEventFilter(scroll)
    scroll.setMinimumWidth(SETUP_WIDTH)
    return scroll, setup_tabs


def _run_column(page) -> QWidget:
    controls = QHBoxLayout()
    controls.addWidget(page.start_button)
    controls.addWidget(page.stop_button)
    controls.addWidget(page.start_reason, 1)
    run = QWidget()
    layout = QVBoxLayout(run)
    layout.setContentsMargins(4, 0, 0, 0)
    layout.addLayout(controls)
    layout.addWidget(page.progress)
    layout.addWidget(_group("3. Learning curves", page.plots, stretch=True), 1)
    return run


def lay_out_training_page(page) -> tuple[QTabWidget, QTabWidget]:
    """Arrange page's widgets; returns (setup tabs: options | network, lower tabs: models | log | result)."""
    setup, setup_tabs = _setup_column(page)
    top = _splitter(Qt.Orientation.Horizontal, setup, _run_column(page))
    top.setStretchFactor(0, 0)
    top.setStretchFactor(1, 1)
    top.setSizes([SETUP_WIDTH + 20, 960])
    result = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
    result.setWidget(page.comparison)
    lower_tabs = QTabWidget()
    lower_tabs.addTab(page.models, "Models")
    lower_tabs.setTabToolTip(MODELS_TAB, "Every stored model; the active one is used at the station.")
    lower_tabs.addTab(page.progress.log, "Epoch log")
    lower_tabs.addTab(result, "4. Result: compare and activate")
    outer = _splitter(Qt.Orientation.Vertical, top, lower_tabs)
    outer.setStretchFactor(0, 3)
    outer.setStretchFactor(1, 2)
    outer.setSizes([560, 320])
    layout = QVBoxLayout(page)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(outer)
    return setup_tabs, lower_tabs
