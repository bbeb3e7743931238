"""After a run: the new model's validation figures next to the active model's, on the same images, and the
"Activate" button (nothing becomes active by itself)."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.evaluation import Metrics
from ..core.model_comparison import Comparison

GOOD_BG, BAD_BG, ZERO_BG = "#d8f0dc", "#f8d7d4", "#f2f2f2"
VERDICT_COLOURS = {"better": "#2e8b45", "worse": "#c0392b", "mixed": "#b07800"}  # others: the theme's text


def _cell(text: str, bg: str | None = None, bold: bool = False) -> QLabel:
    label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter)
    style = "padding: 2px 6px;"
    if bg:
        style += f"background: {bg}; border: 1px solid #ccc; color: #1f2329;"
    if bold:
        style += "font-weight: bold;"
    label.setStyleSheet(style)
    return label


def _percent(value: float) -> str:
    return f"{100.0 * value:.1f} %"


class ConfusionGrid(QWidget):
    """The confusion matrix [[GO->GO, GO->NG], [NG->GO, NG->NG]] in shop-floor words: rows are the real parts,
    columns what the model did with them (passed = called GO, rejected = called NG)."""

    def __init__(self, title: str, matrix: list[list[int]], parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        grid.addWidget(_cell(title, bold=True), 0, 0, 1, 3)
        grid.addWidget(_cell("passed"), 1, 1)
        grid.addWidget(_cell("rejected"), 1, 2)
        self.cells: list[list[QLabel]] = []
        for r, truth in enumerate(("GO parts", "NG parts")):
            grid.addWidget(_cell(truth), r + 2, 0)
            row = []
            for c in range(2):
                n = int(matrix[r][c])
                bg = GOOD_BG if r == c else (BAD_BG if n else ZERO_BG)
                cell = _cell(str(n), bg, bold=True)
                cell.setMinimumWidth(52)
                grid.addWidget(cell, r + 2, c + 1)
                row.append(cell)
            self.cells.append(row)


class ModelComparisonView(QFrame):
    activate_requested = Signal(str)  # model id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(wordWrap=True)
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.summary = QLabel(wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.figures = QWidget()
        self.figures_layout = QHBoxLayout(self.figures)
        self.figures_layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(wordWrap=True)
        self.note.setObjectName("hint")
        self.activate_button = QPushButton("Activate new model")
        self.activate_button.setStyleSheet("font-weight: bold; padding: 6px 14px;")
        self.activate_button.clicked.connect(self._on_activate_clicked)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.activate_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.note)
        layout.addWidget(self.summary)
        layout.addWidget(self.figures)
        layout.addStretch(1)
        self.model_id: str | None = None
        self.comparison: Comparison | None = None
        self._active_id: str | None = None
        self.clear()

    def clear(self) -> None:
        self.model_id = None
        self.comparison = None
        self.title.setText("No result yet")
        self.summary.setText("When a run ends, the new model is measured here next to the active model, on the "
                             "same validation images.")
        self._set_figures(None)
        self.note.clear()
        self.activate_button.hide()

    def show_pending(self, model_id: str, model_name: str) -> None:
        self.model_id = model_id
        self.comparison = None
        self.title.setText(f"New model: {model_name}")
        self.summary.setText("Measuring the new and the active model on the same validation images…")
        self._set_figures(None)
        self._update_button()

    def show_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.model_id = comparison.new.model_id
        self.title.setText(f"New model: {comparison.new.name}")
        colour = VERDICT_COLOURS.get(comparison.verdict)
        style = f" style='color:{colour}'" if colour else ""
        self.summary.setText(f"<b{style}>{html.escape(comparison.headline())}</b><br>"
                             f"<span style='color:#8b93a0'>{html.escape(comparison.details())}</span>")
        self._set_figures(comparison)
        self._update_button()

    def show_error(self, text: str) -> None:
        self.summary.setText(f"<span style='color:#b3261e'>The comparison failed: {html.escape(text)}</span>")
        self._update_button()

    def set_active_id(self, model_id: str | None) -> None:
        self._active_id = model_id
        self._update_button()

    def _update_button(self) -> None:
        if self.model_id is None:
            self.activate_button.hide()
            return
        self.activate_button.show()
        is_active = self.model_id == self._active_id
        self.activate_button.setEnabled(not is_active)
        self.activate_button.setText("This model is active" if is_active else "Activate new model")
        self.note.setText("The station uses this model now." if is_active else
                          "Nothing changes at the station until you press Activate; the active model stays in use.")

    def _set_figures(self, comparison: Comparison | None) -> None:
        while self.figures_layout.count():
            item = self.figures_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.figures.setVisible(comparison is not None)
        if comparison is None:
            return
        columns = [("New model", comparison.new.metrics)]
        if comparison.active is not None:
            columns.append(("Active model", comparison.active.metrics))
        table = QWidget()
        grid = QGridLayout(table)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        rows = ("Accuracy", "NG recall (defects caught)", "Good parts rejected", "Threshold (NG when P(NG) ≥)")
        for r, text in enumerate(rows, start=1):
            grid.addWidget(QLabel(text), r, 0)
        for c, (title, m) in enumerate(columns, start=1):
            grid.addWidget(_cell(title, bold=True), 0, c)
            for r, text in enumerate(_figure_texts(m), start=1):
                grid.addWidget(_cell(text, "#fafafa"), r, c)
        self.figures_layout.addWidget(table)
        for title, m in columns:
            self.figures_layout.addWidget(ConfusionGrid(title, m.confusion_matrix))
        self.figures_layout.addStretch(1)

    @Slot()
    def _on_activate_clicked(self) -> None:
        if self.model_id is not None:
            self.activate_requested.emit(self.model_id)


def _figure_texts(m: Metrics) -> list[str]:
    (go_go, go_ng), (ng_go, ng_ng) = m.confusion_matrix
    return [_percent(m.accuracy), f"{_percent(m.ng_recall)} ({ng_ng} of {ng_go + ng_ng})",
            f"{go_ng} of {go_go + go_ng}", f"{m.threshold:.3f}"]
