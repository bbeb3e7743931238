"""The training options, with the engine's defaults (core.training.trainer.TrainOptions) and a tooltip each.

Two options may be left to the engine: the number of epochs (it follows the data) and class weighting (on
when a class is scarce); the form shows those as "automatic" and passes None."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from fanqc_gui.core.training.trainer import TrainOptions

AUTOMATIC = "automatic"
WEIGHTING_CHOICES = (("automatic (on when a class is scarce)", None), ("on", True), ("off", False))


def _spin(low: int, high: int, tip: str, suffix: str = "", step: int = 1) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, singleStep=step, suffix=suffix, toolTip=tip)
    box.setAccelerated(True)
    return box


class TrainingOptionsForm(QWidget):
    options_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._base = TrainOptions()  # keeps the options this form does not show (interpolation, target)
        self.epochs = _spin(0, 500, "How many passes over the training images. The first two visit every image; "
                                    "later ones visit the share set below. Automatic: more epochs on fewer "
                                    "images, so that a small set still gets enough learning steps.")
        self.epochs.setSpecialValueText(AUTOMATIC)  # 0: the engine chooses
        self.hard_share = _spin(5, 100, "From the third epoch on, each epoch visits this share of the training "
                                        "images, drawn by how hard each still is for the model (its loss when "
                                        "last trained on): most training time goes where the model still errs. "
                                        "100 % = every image in every epoch.", " % of images", 5)
        self.batch_size = _spin(1, 1024, "Images per learning step. Smaller uses less memory; 32 suits most PCs.")
        self.learning_rate = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=0.5, singleStep=0.0001,
                                            toolTip="How big each learning step is. Too high: the loss jumps or "
                                                    "becomes NaN. Too low: learning is slow.")
        self.image_size = _spin(16, 512, "Every image is resized to this square before it enters the network. "
                                         "Larger sees finer defects but trains slower.", " px", 8)
        self.val_split = _spin(5, 50, "Share of each class kept aside to check the model on images it never "
                                      "learned from.", " %")
        self.seed = _spin(0, 2_147_483_647, "The same seed, data and options give the same split and model.")
        self.augment = QCheckBox("Augment: vary training images (flips, turns, light)",
                                 toolTip="Helps when there are few images; training takes a little longer.")
        self.class_weighting = QComboBox(toolTip="When one class has more images, errors on the smaller class "
                                                 "count more, so it is not ignored. Automatic: on when a class "
                                                 "has less than a quarter of the images.")
        for text, value in WEIGHTING_CHOICES:
            self.class_weighting.addItem(text, value)
        self.early_stopping = QCheckBox("Early stopping after",
                                        toolTip="Stop when the validation loss has not improved for this many "
                                                "epochs. The best epoch is kept either way.")
        self.patience = _spin(1, 100, "Epochs without improvement before stopping early.", " epochs")
        self.name = QLineEdit(placeholderText="automatic (date and time)",
                              toolTip="A name for the new model in the model list. You can rename it later.")
        self.defaults_button = QPushButton("Restore defaults", toolTip="Back to the recommended options.")

        stopping = QHBoxLayout()
        stopping.setContentsMargins(0, 0, 0, 0)
        stopping.addWidget(self.early_stopping)
        stopping.addWidget(self.patience)
        stopping.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Epochs", self.epochs)
        form.addRow("Epochs 3+ visit", self.hard_share)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Image size", self.image_size)
        form.addRow("Validation share", self.val_split)
        form.addRow("Random seed", self.seed)
        form.addRow("", self.augment)
        form.addRow("Class weighting", self.class_weighting)
        form.addRow("", stopping)
        form.addRow("Model name", self.name)
        form.addRow("", self.defaults_button)

        self.set_options(self._base)
        for box in (self.epochs, self.hard_share, self.batch_size, self.image_size, self.val_split, self.seed,
                    self.patience):
            box.valueChanged.connect(self._on_field_changed)
        self.learning_rate.valueChanged.connect(self._on_field_changed)
        for check in (self.augment, self.early_stopping):
            check.toggled.connect(self._on_field_changed)
        self.class_weighting.currentIndexChanged.connect(self._on_field_changed)
        self.defaults_button.clicked.connect(self._on_defaults_clicked)

    def options(self) -> TrainOptions:
        return replace(self._base, epochs=self.epochs.value() or None,
                       hard_example_fraction=self.hard_share.value() / 100.0,
                       batch_size=self.batch_size.value(),
                       learning_rate=self.learning_rate.value(), image_size=self.image_size.value(),
                       val_split=self.val_split.value() / 100.0, seed=self.seed.value(),
                       augment=self.augment.isChecked(), class_weighting=self.class_weighting.currentData(),
                       early_stopping=self.early_stopping.isChecked(), patience=self.patience.value())

    def set_options(self, options: TrainOptions) -> None:
        self._base = options
        widgets = (self.epochs, self.hard_share, self.batch_size, self.learning_rate, self.image_size,
                   self.val_split, self.seed, self.augment, self.class_weighting, self.early_stopping, self.patience)
        for w in widgets:
            w.blockSignals(True)
        self.epochs.setValue(options.epochs or 0)
        self.hard_share.setValue(round(options.hard_example_fraction * 100))
        self.batch_size.setValue(options.batch_size)
        self.learning_rate.setValue(options.learning_rate)
        self.image_size.setValue(options.image_size)
        self.val_split.setValue(round(options.val_split * 100))
        self.seed.setValue(options.seed)
        self.augment.setChecked(options.augment)
        self.class_weighting.setCurrentIndex(self.class_weighting.findData(options.class_weighting))
        self.early_stopping.setChecked(options.early_stopping)
        self.patience.setValue(options.patience)
        for w in widgets:
            w.blockSignals(False)
        self.patience.setEnabled(options.early_stopping)
        self._update_enabled()
        self.options_changed.emit()

    def model_name(self) -> str | None:
        return self.name.text().strip() or None

    @Slot()
    def _on_field_changed(self) -> None:
        self._update_enabled()
        self.options_changed.emit()

    def _update_enabled(self) -> None:
        self.patience.setEnabled(self.early_stopping.isChecked())
        epochs = self.epochs.value()
        self.hard_share.setEnabled(epochs == 0 or epochs > 2)  # automatic plans at least 4 epochs

    @Slot()
    def _on_defaults_clicked(self) -> None:
        self.set_options(TrainOptions())
