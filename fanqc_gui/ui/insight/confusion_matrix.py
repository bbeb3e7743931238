"""A 2 x 2 confusion matrix whose cells are buttons: clicking one filters the table to exactly those images.

Cell colours come from the theme (theme.colour) and are re-read when the theme changes."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

from fanqc_gui.ui import theme

# (folder, verdict) -> what the cell means on the line
CELL_TEXT = {("GO", "GO"): "good parts passed", ("GO", "NG"): "good parts rejected",
             ("NG", "GO"): "defects missed", ("NG", "NG"): "defects caught"}
# (fill, border, text) theme colour names per kind of cell
CELL_COLOURS = {"right": ("goButton", "goBorder", "goText"), "wrong": ("ngButton", "ngBorder", "ngText"),
                "empty": ("cellFill", "border", "hint")}


def cell_style(kind: str, checked: bool) -> str:
    fill, border, text = (theme.colour(name).name() for name in CELL_COLOURS[kind])
    edge = f"3px solid {theme.colour('drop').name()}" if checked else f"1px solid {border}"
    return (f"QPushButton {{ background: {fill}; border: {edge}; color: {text}; border-radius: 5px; "
            f"font-weight: 600; padding: 4px; }}")


class ConfusionMatrix(QWidget):
    cell_toggled = Signal(object)  # (folder, verdict) when a cell is chosen, None when it is released

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts = {cell: 0 for cell in CELL_TEXT}
        self.buttons: dict[tuple[str, str], QPushButton] = {}
        self._scheme = theme.current_scheme()
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for col, verdict in enumerate(("GO", "NG"), start=1):
            head = QLabel(f"Model says <b>{verdict}</b>")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(head, 0, col)
        for row, folder in enumerate(("GO", "NG"), start=1):
            grid.addWidget(QLabel(f"Filed <b>{folder}</b>"), row, 0)
            for col, verdict in enumerate(("GO", "NG"), start=1):
                button = QPushButton(checkable=True)
                button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
                button.setMinimumHeight(44)
                button.setToolTip(f"Show the images filed {folder} that the model calls {verdict}")
                button.clicked.connect(lambda checked, cell=(folder, verdict): self._on_cell_clicked(cell, checked))
                self._group.addButton(button)
                self.buttons[(folder, verdict)] = button
                grid.addWidget(button, row, col)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        self.set_counts([[0, 0], [0, 0]])

    def set_counts(self, matrix: list[list[int]]) -> None:
        """[[GO->GO, GO->NG], [NG->GO, NG->NG]] as core.models.evaluation.Metrics.confusion_matrix."""
        for r, folder in enumerate(("GO", "NG")):
            for c, verdict in enumerate(("GO", "NG")):
                n = int(matrix[r][c])
                self.counts[(folder, verdict)] = n
                button = self.buttons[(folder, verdict)]
                button.setText(f"{n:,}\n{CELL_TEXT[(folder, verdict)]}")
                self._style(button, folder, verdict)

    def chosen(self) -> tuple[str, str] | None:
        for cell, button in self.buttons.items():
            if button.isChecked():
                return cell
        return None

    def release(self) -> None:
        """Uncheck the chosen cell without emitting (the table's filter was cleared elsewhere)."""
        for cell, button in self.buttons.items():
            if button.isChecked():
                button.setChecked(False)
                self._style(button, *cell)

    def kind(self, cell: tuple[str, str]) -> str:
        """"empty", "right" or "wrong": how the cell is coloured."""
        folder, verdict = cell
        return "empty" if self.counts[cell] == 0 else "right" if folder == verdict else "wrong"

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # The theme announces itself with the palette, before its colour table is switched: re-read after.
            QTimer.singleShot(0, self, self._follow_theme)

    def _follow_theme(self) -> None:
        if theme.current_scheme() != self._scheme:
            self._scheme = theme.current_scheme()
            for cell, button in self.buttons.items():
                self._style(button, *cell)

    def _style(self, button: QPushButton, folder: str, verdict: str) -> None:
        button.setStyleSheet(cell_style(self.kind((folder, verdict)), button.isChecked()))

    def _on_cell_clicked(self, cell: tuple[str, str], checked: bool) -> None:
        for other, button in self.buttons.items():
            if other != cell and button.isChecked():
                button.setChecked(False)
                self._style(button, *other)
        self._style(self.buttons[cell], *cell)
        self.cell_toggled.emit(cell if checked else None)
