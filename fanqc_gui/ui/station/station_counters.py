"""Inspected / GO / NG / yield counters of the camera station, with a reset button. Their colours come from
the theme's style sheet (QLabel[stationCounter] in fanqc.qss), so they follow light and dark."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget

from fanqc_gui.core.station.pipeline import Counters


class StationCounters(QWidget):
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.values: dict[str, QLabel] = {}
        for col, (key, title) in enumerate((("inspected", "Inspected"), ("go", "GO"), ("ng", "NG"),
                                            ("yield", "Yield"))):
            caption = QLabel(title)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value = QLabel("0")
            value.setObjectName(f"counter_{key}")
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            font = QFont(self.font())
            font.setPixelSize(30)
            font.setBold(True)
            value.setFont(font)
            value.setProperty("stationCounter", True)
            value.setMinimumWidth(60)
            grid.addWidget(caption, 0, col)
            grid.addWidget(value, 1, col)
            self.values[key] = value
        self.reset_button = QPushButton("Reset counters")
        self.reset_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reset_button.clicked.connect(self._on_reset_clicked)
        grid.addWidget(self.reset_button, 1, 4)
        self.show_counters(Counters())

    def show_counters(self, c: Counters) -> None:
        self.values["inspected"].setText(str(c.inspected))
        self.values["go"].setText(str(c.go))
        self.values["ng"].setText(str(c.ng))
        self.values["yield"].setText("-" if c.yield_pct is None else f"{c.yield_pct:.1f} %")

    def text_of(self, key: str) -> str:
        return self.values[key].text()

    @Slot()
    def _on_reset_clicked(self) -> None:
        self.reset_requested.emit()
