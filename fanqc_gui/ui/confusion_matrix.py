"""A 2 x 2 confusion matrix whose cells are buttons: clicking one filters the table to exactly those images."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

# (folder, verdict) -> what the cell means on the line
CELL_TEXT = {("GO", "GO"): "good parts passed", ("GO", "NG"): "good parts rejected",
             ("NG", "GO"): "defects missed", ("NG", "NG"): "defects caught"}
RIGHT_STYLE = "background: #e7f5ea; border: 1px solid #8fcb9f; color: #1d6b33;"
WRONG_STYLE = "background: #fde8e6; border: 1px solid #e6a19b; color: #a3241c;"
EMPTY_STYLE = "background: #f6f7f9; border: 1px solid #d9dce1; color: #6b7280;"
CHECKED = "border: 3px solid #2f6fe0;"


class ConfusionMatrix(QWidget):
    cell_toggled = Signal(object)  # (folder, verdict) when a cell is chosen, None when it is released

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts = {cell: 0 for cell in CELL_TEXT}
        self.buttons: dict[tuple[str, str], QPushButton] = {}
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
                button.setMinimumHeight(46)
                button.setToolTip(f"Show the images filed {folder} that the model calls {verdict}")
                button.clicked.connect(lambda checked, cell=(folder, verdict): self._on_cell_clicked(cell, checked))
                self._group.addButton(button)
                self.buttons[(folder, verdict)] = button
                grid.addWidget(button, row, col)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        self.set_counts([[0, 0], [0, 0]])

    def set_counts(self, matrix: list[list[int]]) -> None:
        """[[GO->GO, GO->NG], [NG->GO, NG->NG]] as core.evaluation.Metrics.confusion_matrix."""
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

    def _style(self, button: QPushButton, folder: str, verdict: str) -> None:
        n = self.counts[(folder, verdict)]
        base = EMPTY_STYLE if n == 0 else RIGHT_STYLE if folder == verdict else WRONG_STYLE
        extra = CHECKED if button.isChecked() else ""
        button.setStyleSheet(f"QPushButton {{ {base} {extra} border-radius: 5px; font-weight: 600; padding: 4px; }}")

    def _on_cell_clicked(self, cell: tuple[str, str], checked: bool) -> None:
        for other, button in self.buttons.items():
            if other != cell and button.isChecked():
                button.setChecked(False)
                self._style(button, *other)
        self._style(self.buttons[cell], *cell)
        self.cell_toggled.emit(cell if checked else None)
