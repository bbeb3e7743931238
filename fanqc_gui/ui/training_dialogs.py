"""The two questions the training page asks: what to keep when stopping, and whether to close mid-run."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

STOP_DIALOG = "stopTrainingDialog"
CLOSE_DIALOG = "closeDuringTrainingDialog"
SAVE, DISCARD = "save", "discard"


def ask_stop_choice(parent: QWidget, epochs_done: int) -> str | None:
    """SAVE (stop, keep the best model so far), DISCARD (stop, keep nothing) or None (continue training)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Stop training", "Stop the run after the current batch?",
                      parent=parent)
    box.setObjectName(STOP_DIALOG)
    save = None
    if epochs_done:
        box.setInformativeText(f"{epochs_done} epoch(s) are done. The best model so far can be kept in the model "
                               "list; it is not activated. The active model is not touched either way.")
        save = box.addButton("Stop and keep best model", QMessageBox.ButtonRole.AcceptRole)
    else:
        box.setInformativeText("No epoch has finished yet, so there is no model to keep.")
    discard = box.addButton("Stop, keep nothing", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton("Continue training", QMessageBox.ButtonRole.RejectRole))
    box.exec()
    clicked = box.clickedButton()
    if save is not None and clicked is save:
        return SAVE
    return DISCARD if clicked is discard else None


def confirm_close_during_training(parent: QWidget, epochs_done: int) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning, "Training is running",
                      f"A training run is in progress ({epochs_done} epoch(s) done). Stop it and close?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setObjectName(CLOSE_DIALOG)
    box.setInformativeText("The run stops after the current batch. Its model is not saved, and the active model "
                           "stays as it is.")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.exec()
    return box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
