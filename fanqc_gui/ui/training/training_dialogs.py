"""The two questions the training page asks while a run goes on: what to keep when stopping, and whether to
close mid-run.

The run does not pause while a question is open, so each dialog follows it: `set_epochs_done` is called as
epochs finish (the count always matches the log and the curves), and the page closes the dialog when the run
ends before the user answers.

Only the reference preset's runs have epochs with a best model to keep. A pretrained or anomaly run saves its
model only when it completes (its "epochs" are the threshold's folds, or none), so for those the questions
speak of the run, not of epochs, and offer no model to keep (`keeps_best` False).
"""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

STOP_DIALOG = "stopTrainingDialog"
CLOSE_DIALOG = "closeDuringTrainingDialog"
SAVE, DISCARD = "save", "discard"


def epochs_text(epochs_done: int, planned: int = 0) -> str:
    """How far the run is, in the words of the log: epochs done (as many as its epoch lines), and the one
    under way. planned: the run's epochs, 0 while unknown."""
    if not epochs_done:
        return "No epoch has finished yet"
    done = f"{epochs_done} epoch{'s are' if epochs_done != 1 else ' is'} done"
    if planned and epochs_done >= planned:
        return f"{done} (all of them)"
    return f"{done} (epoch {epochs_done + 1} is under way; stopping abandons it)"


NOTHING_TO_KEEP = ("This run saves its model only when it completes, so stopping keeps nothing (image features "
                   "computed so far stay cached for the next run). The active model is not touched.")


class StopDialog(QMessageBox):
    """SAVE (stop, keep the best model so far), DISCARD (stop, keep nothing) or None (continue training).
    Opened with open(): the page reads `choice()` when it finishes."""

    def __init__(self, parent: QWidget, epochs_done: int, planned: int = 0, keeps_best: bool = True):
        super().__init__(QMessageBox.Icon.Question, "Stop training",
                         "Stop the run after the current batch?" if keeps_best else "Stop the run?", parent=parent)
        self.setObjectName(STOP_DIALOG)
        self._keeps_best = keeps_best
        self._save = None
        self._discard = self.addButton("Stop, keep nothing", QMessageBox.ButtonRole.DestructiveRole)
        self.setDefaultButton(self.addButton("Continue training", QMessageBox.ButtonRole.RejectRole))
        self.set_epochs_done(epochs_done, planned)

    def set_epochs_done(self, epochs_done: int, planned: int = 0) -> None:
        if not self._keeps_best:
            self.setInformativeText(NOTHING_TO_KEEP)
            return
        if epochs_done and self._save is None:  # the first epoch ended while the question was open
            self._save = self.addButton("Stop and keep best model", QMessageBox.ButtonRole.AcceptRole)
        if epochs_done:
            self.setInformativeText(f"{epochs_text(epochs_done, planned)}. The best model so far can be kept in the "
                                    "model list; it is not activated. The active model is not touched either way.")
        else:
            self.setInformativeText(f"{epochs_text(0)}, so there is no model to keep.")

    def choice(self) -> str | None:
        clicked = self.clickedButton()
        if self._save is not None and clicked is self._save:
            return SAVE
        return DISCARD if clicked is self._discard else None


class CloseDialog(QMessageBox):
    """Stop the run and close the window? Yes or No (the default)."""

    def __init__(self, parent: QWidget, epochs_done: int, planned: int = 0, keeps_best: bool = True):
        super().__init__(QMessageBox.Icon.Warning, "Training is running", "",
                         QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
        self.setObjectName(CLOSE_DIALOG)
        self._keeps_best = keeps_best
        self.setInformativeText("The run stops. Its model is not saved, and the active model stays as it is.")
        self.setDefaultButton(QMessageBox.StandardButton.No)
        self.set_epochs_done(epochs_done, planned)

    def set_epochs_done(self, epochs_done: int, planned: int = 0) -> None:
        if not self._keeps_best:
            self.setText("A training run is in progress. Stop it and close?")
            return
        progress = epochs_text(epochs_done, planned)
        self.setText(f"A training run is in progress: {progress[0].lower()}{progress[1:]}. Stop it and close?")

    def accepted_close(self) -> bool:
        return self.clickedButton() is self.button(QMessageBox.StandardButton.Yes)
