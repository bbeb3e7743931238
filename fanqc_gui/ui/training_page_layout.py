"""Where the training page's parts sit: the setup column on the left (images, options, network), the run on
the right (controls, progress, curves, log and result), the model list along the bottom."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QScrollArea, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)


def _group(title: str, widget: QWidget, stretch: bool = False) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(widget, 1 if stretch else 0)
    return box


def lay_out_training_page(page) -> tuple[QTabWidget, QTabWidget]:
    """Arrange page's widgets; returns (setup tabs: options | network, lower tabs: epoch log | result)."""
    setup = QWidget()
    setup_layout = QVBoxLayout(setup)
    setup_layout.addWidget(_group("1. Images to train on", page.dataset))
    setup_tabs = QTabWidget()
    setup_tabs.addTab(page.options_form, "2. Options")
    setup_tabs.addTab(page.architecture, "The network (layers)")
    setup_layout.addWidget(setup_tabs, 1)
    scroll = QScrollArea(widgetResizable=True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(setup)
    scroll.setMinimumWidth(440)
    controls = QHBoxLayout()
    controls.addWidget(page.start_button)
    controls.addWidget(page.stop_button)
    controls.addWidget(page.start_reason, 1)
    result = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
    result.setWidget(page.comparison)
    lower_tabs = QTabWidget()
    lower_tabs.addTab(page.progress.log, "Epoch log")
    lower_tabs.addTab(result, "4. Result: compare and activate")
    run = QWidget()
    run_layout = QVBoxLayout(run)
    run_layout.addLayout(controls)
    run_layout.addWidget(page.progress)
    curves_and_result = QSplitter(Qt.Orientation.Vertical)
    curves_and_result.addWidget(_group("3. Learning curves", page.plots, stretch=True))
    curves_and_result.addWidget(lower_tabs)
    curves_and_result.setSizes([300, 270])
    run_layout.addWidget(curves_and_result, 1)
    top = QSplitter(Qt.Orientation.Horizontal)
    top.addWidget(scroll)
    top.addWidget(run)
    top.setStretchFactor(1, 1)
    top.setSizes([480, 960])
    outer = QSplitter(Qt.Orientation.Vertical)
    outer.addWidget(top)
    outer.addWidget(_group("Models (the active one is used at the station)", page.models, stretch=True))
    outer.setStretchFactor(0, 3)
    outer.setSizes([700, 180])
    layout = QVBoxLayout(page)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(outer)
    return setup_tabs, lower_tabs
