"""Fixing labels from the insight page: move the selected images to GO / NG, accept the model's confident
inbox suggestions in bulk (asks once), and undo. Every move goes through the MoveJournal shared with the
dataset page, so Edit > Undo there undoes these moves too.

MoveJournal records one step per destination folder; accepting suggestions for both GO and NG makes two
steps, which this bar's Undo takes back together.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from fanqc_gui.core.dataset.file_moves import MoveJournal, MoveResult
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.insight.explanations import DEFAULT_CONFIDENCE, Suggestion, suggest_for_inbox
from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
from fanqc_gui.ui.dataset.move_messages import describe_result

ACCEPT_DIALOG = "acceptSuggestionsDialog"


class LabelFixer(QWidget):
    files_moved = Signal(list)  # [(old path, new path)] of files that really moved
    status_message = Signal(str)
    move_requested = Signal(str)  # "GO" or "NG": the page moves its selected rows with `move`

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace: Workspace | None = None
        self.journal: MoveJournal | None = None
        self.suggestions: list[Suggestion] = []
        self._group: tuple[int, str] | None = None  # (journal steps, description of the newest) of a bulk accept
        self._has_selection = False
        self.to_go = QPushButton("To GO (G)", toolTip="Move the selected images to GO: file them as good parts")
        self.to_ng = QPushButton("To NG (N)", toolTip="Move the selected images to NG: file them as defects")
        self.to_go.setProperty("paneKind", "go")
        self.to_ng.setProperty("paneKind", "ng")
        self.confidence = QDoubleSpinBox(decimals=1, minimum=50.0, maximum=99.9, singleStep=1.0, suffix=" %",
                                         value=100.0 * DEFAULT_CONFIDENCE)
        self.confidence.setToolTip("Only inbox images the model is at least this sure about are suggested")
        self.accept = QPushButton("Accept inbox suggestions…")
        self.accept.setMinimumWidth(self.accept.fontMetrics().horizontalAdvance("File 999 as suggested…") + 24)
        # A short, fixed label: what would be undone is in the tooltip, so a long step never widens the page.
        self.undo_button = QPushButton("Undo")
        moves = QHBoxLayout()
        moves.setSpacing(6)
        moves.addWidget(self.to_go)
        moves.addWidget(self.to_ng)
        moves.addStretch(1)
        moves.addWidget(self.undo_button)
        inbox = QHBoxLayout()
        inbox.setSpacing(6)
        inbox.addWidget(QLabel("Inbox, sure ≥", toolTip="Suggest a class for inbox images the model is at least "
                                                          "this sure about"))
        inbox.addWidget(self.confidence)
        inbox.addWidget(self.accept, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(moves)
        layout.addLayout(inbox)
        self.to_go.clicked.connect(lambda: self.move_requested.emit("GO"))
        self.to_ng.clicked.connect(lambda: self.move_requested.emit("NG"))
        self.accept.clicked.connect(self._on_accept_clicked)
        self.undo_button.clicked.connect(self.undo)
        self._rows: list[ImagePrediction] = []
        self._threshold = 0.5
        self.confidence.valueChanged.connect(lambda _v: self.update_suggestions(self._rows, self._threshold))
        self.update_buttons(False)

    def set_context(self, workspace: Workspace | None, journal: MoveJournal | None) -> None:
        self.workspace = workspace
        self.journal = journal if journal is not None or workspace is None else MoveJournal(workspace.trash_dir)
        self._group = None
        self.update_buttons(False)

    def reset(self) -> None:
        """As freshly built (another workspace opened): default confidence, no suggestions."""
        self.confidence.blockSignals(True)
        self.confidence.setValue(100.0 * DEFAULT_CONFIDENCE)
        self.confidence.blockSignals(False)
        self._group = None
        self.update_suggestions([], 0.5)
        self.update_buttons(False)

    def update_buttons(self, has_selection: bool | None = None) -> None:
        if has_selection is not None:
            self._has_selection = has_selection
        has_selection = self._has_selection
        usable = self.workspace is not None and self.journal is not None
        self.to_go.setEnabled(usable and has_selection)
        self.to_ng.setEnabled(usable and has_selection)
        can_undo = usable and self.journal.can_undo
        self.undo_button.setEnabled(bool(can_undo))
        self.undo_button.setToolTip(f"Undo {self.journal.describe_undo()}" if can_undo else "Nothing to undo")

    def update_suggestions(self, rows: list[ImagePrediction], threshold: float) -> None:
        self._rows, self._threshold = rows, threshold
        inbox = [r for r in rows if r.folder == "inbox"]
        self.suggestions = suggest_for_inbox(inbox, threshold, self.confidence.value() / 100.0)
        n_ng = sum(s.label for s in self.suggestions)
        n_go = len(self.suggestions) - n_ng
        if self.suggestions:
            self.accept.setText(f"File {len(self.suggestions)} as suggested…")
            self.accept.setToolTip(f"File {n_go} inbox image(s) in GO and {n_ng} in NG, as the model suggests "
                                   f"(asks first; one Undo takes it back)")
        else:
            self.accept.setText("No sure suggestions")
            self.accept.setToolTip("No inbox image the model is sure enough about")
        self.accept.setEnabled(bool(self.suggestions) and self.journal is not None)

    # ---- moving -----------------------------------------------------------------------------------------
    def move(self, paths: list[str], folder: str) -> MoveResult | None:
        """Move files into the GO or NG folder through the journal (one undoable step)."""
        if self.workspace is None or self.journal is None or not paths:
            return None
        dest = self.workspace.go_dir if folder == "GO" else self.workspace.ng_dir
        result = self.journal.move(paths, dest)
        self._group = None
        self._report(result, f"Moved to {dest.name}/")
        return result

    def accept_suggestions(self, confirm: bool = True) -> MoveResult | None:
        """File every current suggestion into its class; asks once (unless confirm is False)."""
        if not self.suggestions or self.workspace is None or self.journal is None:
            return None
        go = [s.path for s in self.suggestions if s.label == 0]
        ng = [s.path for s in self.suggestions if s.label == 1]
        if confirm and not self._confirm(len(go), len(ng)):
            return None
        result = MoveResult()
        steps = 0
        for paths, dest in ((go, self.workspace.go_dir), (ng, self.workspace.ng_dir)):
            if paths:
                part = self.journal.move(paths, dest)
                result.done += part.done
                result.failed += part.failed
                steps += 1 if part.done else 0
        self._group = (steps, self.journal.describe_undo()) if steps > 1 else None
        self._report(result, "Accepted the model's suggestions")
        return result

    @Slot()
    def undo(self) -> MoveResult | None:
        """Undo the newest move in the journal; a bulk accept (GO and NG steps) is undone as a whole."""
        if self.journal is None or not self.journal.can_undo:
            return None
        steps = 1
        if self._group is not None and self.journal.describe_undo() == self._group[1]:
            steps = self._group[0]
        self._group = None
        what = self.journal.describe_undo()
        total = MoveResult()
        for _ in range(steps):
            part = self.journal.undo()
            if part is None:
                break
            total.done += part.done
            total.failed += part.failed
        self._report(total, f"Undid {what}" + (" and the step before it" if steps > 1 else ""))
        return total

    def _confirm(self, n_go: int, n_ng: int) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Accept inbox suggestions",
                          f"File {n_go} inbox image(s) in GO and {n_ng} in NG, as the model suggests with at "
                          f"least {self.confidence.value():.1f} % confidence?\n\nYou can undo this in one step.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName(ACCEPT_DIALOG)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _report(self, result: MoveResult, done_text: str) -> None:
        pairs = [(str(a), str(b)) for a, b in result.done]
        if pairs:
            self.files_moved.emit(pairs)
        text = describe_result(result, done_text) if (result.done or result.failed) else "Nothing to move."
        if result.done and len(result.done) > 1:
            folders = sorted({Path(b).parent.name for _, b in result.done})
            text = text.replace(done_text, f"{done_text} ({', '.join(f + '/' for f in folders)})", 1)
        self.status_message.emit(text)
        self.update_buttons()

    @Slot()
    def _on_accept_clicked(self) -> None:
        self.accept_suggestions(confirm=True)
