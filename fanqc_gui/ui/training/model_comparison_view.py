"""After a run: the new model's validation figures next to the active model's, on the same images, and the
"Activate" button (nothing becomes active by itself)."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fanqc_gui.core.models.evaluation import Metrics
from fanqc_gui.core.training.model_comparison import Comparison
from fanqc_gui.ui import theme

# Cell kinds -> the theme's (fill, text, border) colour names (theme.LIGHT / DARK): right answers, wrong
# answers, an empty wrong-answer cell, and a plain figure.
CELL_COLOURS = {
    "good": ("goHeader", "goText", "goBorder"),
    "bad": ("ngHeader", "ngText", "ngBorder"),
    "zero": ("header", "cellText", "border"),
    "figure": ("cellFill", "cellText", "border"),
}
VERDICT_COLOURS = {"better": "goText", "worse": "ngText", "mixed": "warnText"}  # others: the theme's text


def _cell(text: str, kind: str | None = None, bold: bool = False) -> QLabel:
    """A centred figure; kind (a CELL_COLOURS key) boxes it in the theme's colours, read now."""
    label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter)
    style = "padding: 2px 6px;"
    if kind:
        fill, colour, border = (theme.colour(name).name() for name in CELL_COLOURS[kind])
        style += f"background: {fill}; border: 1px solid {border}; color: {colour};"
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
                cell = _cell(str(n), "good" if r == c else ("bad" if n else "zero"), bold=True)
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
        words = QVBoxLayout()
        words.addWidget(self.note)
        words.addWidget(self.summary)
        words.addStretch(1)
        body = QHBoxLayout()  # the words beside the figures: the whole result fits a low panel
        body.addLayout(words, 1)
        body.addWidget(self.figures, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(body)
        layout.addStretch(1)
        self.model_id: str | None = None
        self.comparison: Comparison | None = None
        self._active_id: str | None = None
        self._error: str | None = None
        self._scheme = theme.current_scheme()
        self.clear()

    def clear(self) -> None:
        self.model_id = None
        self.comparison = None
        self._error = None
        self.title.setText("No result yet")
        self.summary.setText("When a run ends, the new model is measured here next to the active model, on the "
                             "same validation images.")
        self._set_figures(None)
        self.note.clear()
        self.activate_button.hide()

    def show_pending(self, model_id: str, model_name: str) -> None:
        self.model_id = model_id
        self.comparison = None
        self._error = None
        self.title.setText(f"New model: {model_name}")
        self.summary.setText("Measuring the new and the active model on the same validation images…")
        self._set_figures(None)
        self._update_button()

    def show_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.model_id = comparison.new.model_id
        self._error = None
        self.title.setText(f"New model: {comparison.new.name}")
        colour = VERDICT_COLOURS.get(comparison.verdict)
        style = f" style='color:{theme.colour(colour).name()}'" if colour else ""
        self.summary.setText(f"<b{style}>{html.escape(comparison.headline())}</b><br>"
                             f"<span style='color:{theme.colour('hint').name()}'>"
                             f"{html.escape(comparison.details())}</span>")
        self._set_figures(comparison)
        self._update_button()

    def show_error(self, text: str) -> None:
        self._error = text
        self.summary.setText(f"<span style='color:{theme.colour('ngText').name()}'>The comparison failed: "
                             f"{html.escape(text)}</span>")
        self._update_button()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the theme's colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        if self.comparison is not None:
            self.show_comparison(self.comparison)  # every colour is read again
        elif self._error is not None:
            self.show_error(self._error)

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
            if (widget := item.widget()) is not None:
                widget.setParent(None)  # out of the page at once (deleteLater waits for the loop)
                widget.deleteLater()
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
                grid.addWidget(_cell(text, "figure"), r, c)
        self.figures_layout.addWidget(table)
        for title, m in columns:
            self.figures_layout.addWidget(ConfusionGrid(title, m.confusion_matrix))

    @Slot()
    def _on_activate_clicked(self) -> None:
        if self.model_id is not None:
            self.activate_requested.emit(self.model_id)


def _figure_texts(m: Metrics) -> list[str]:
    (go_go, go_ng), (ng_go, ng_ng) = m.confusion_matrix
    return [_percent(m.accuracy), f"{_percent(m.ng_recall)} ({ng_ng} of {ng_go + ng_ng})",
            f"{go_ng} of {go_go + go_ng}", f"{m.threshold:.3f}"]
