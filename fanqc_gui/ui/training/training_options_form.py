"""What to train and how: the mode ("Classify GO/NG" or "Find anomalies (GO only)"), the classifier's preset
(pretrained / reference) or the anomaly method (PaDiM / PatchCore), and the options that mode uses, with
the engine's defaults (core.training.trainer.TrainOptions, core.models.anomaly.options.AnomalyOptions) and
a tooltip each. Options a mode does not use are hidden, never silently ignored.

Two options may be left to the engine: the number of epochs (it follows the data) and class weighting (on
when a class is scarce); the form shows those as "automatic" and passes None. `run_options()` is what Start
trains with: TrainOptions for a classifier, AnomalyOptions for an anomaly model."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.training.trainer import TrainOptions

AUTOMATIC = "automatic"
CLASSIFY, ANOMALY = "classify", "anomaly"
MODE_TEXTS = {CLASSIFY: "Classify GO/NG", ANOMALY: "Find anomalies (GO only)"}
WEIGHTING_CHOICES = (("automatic (on when a class is scarce)", None), ("on", True), ("off", False))
PRESET_CHOICES = (("pretrained: ImageNet backbone + head (generalises)", "pretrained"),
                  ("reference: the original CNN, trained from scratch", "reference"))
METHOD_CHOICES = (("PaDiM: fast (default)", "padim"), ("PatchCore: more accurate, slower", "patchcore"))
ORIENTATION_CHOICES = (("automatic", "auto"), ("on", "on"), ("off", "off"))
MODE_HINTS = {
    CLASSIFY: "Learns GO and NG from both folders; needs photos of defects in NG.",
    ANOMALY: "Learns what good parts look like from the GO folder alone and flags whatever differs, with a map "
             "of where. NG images, if any, only set the threshold and the report.",
}


def _spin(low: int, high: int, tip: str, suffix: str = "", step: int = 1) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, singleStep=step, suffix=suffix, toolTip=tip)
    box.setAccelerated(True)
    return box


def _percent_box(low: float, high: float, suffix: str, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox(decimals=1, minimum=low, maximum=high, singleStep=0.5, suffix=suffix, toolTip=tip)
    box.setAccelerated(True)
    return box


def _combo(choices, tip: str) -> QComboBox:
    box = QComboBox(toolTip=tip)
    # Long choices never widen the options column (it fits a 1280x720 window): the list shows them whole.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(24)
    for text, value in choices:
        box.addItem(text, value)
    return box


class TrainingOptionsForm(QWidget):
    options_changed = Signal()  # any field, the mode or the preset

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._base = TrainOptions()  # keeps the options this form does not show (interpolation)
        self._anomaly_base = AnomalyOptions()
        self.classify_radio = QRadioButton(MODE_TEXTS[CLASSIFY], toolTip=MODE_HINTS[CLASSIFY])
        self.anomaly_radio = QRadioButton(MODE_TEXTS[ANOMALY], toolTip=MODE_HINTS[ANOMALY])
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.classify_radio)
        self.mode_group.addButton(self.anomaly_radio)
        self.classify_radio.setChecked(True)
        self.preset = _combo(PRESET_CHOICES, "pretrained: EfficientNet-Lite0 with ImageNet weights computes features "
                                             "once per image and a head is trained on them; it holds on parts "
                                             "nobody tuned for. reference: the original network, exactly as the "
                                             "old training script (first-layer filters, .h5 import).")
        self.method = _combo(METHOD_CHOICES, "PaDiM: a statistic of the good parts per patch position; fits in "
                                             "seconds. PatchCore: the nearest good patch anywhere; more accurate "
                                             "on parts in varying positions, slower to fit and to judge.")
        self.input_size = QLineEdit(placeholderText="auto",
                                    toolTip="The picture the network sees: 'auto' (by rule from the images' sizes, "
                                            "keeping their aspect ratio), N (square) or WxH, e.g. 224 or 256x640; "
                                            "each side a multiple of 32.")
        self.folds = _spin(2, 20, "The threshold is chosen on out-of-fold scores: each image is scored by a head "
                                  "trained without it. More folds: a little slower, steadier threshold.")
        self.orientation = _combo(ORIENTATION_CHOICES, "The model looks at each image also flipped and turned and "
                                                       "averages (automatic: as many as help on these images; "
                                                       "each one costs the station time per frame).")
        self.fine_tune = QCheckBox("Fine-tune the upper blocks (slow)",
                                   toolTip="Also adapt the backbone's last blocks (11-14) to these images, not only "
                                           "the head: for parts unlike everyday objects. Each threshold fold tunes "
                                           "them again, so training takes minutes; the threshold stays honest.")
        self.target_recall = _percent_box(50.0, 100.0, " % of NG", "The threshold is set to catch at least this "
                                          "share of the defects, measured on images the model did not learn "
                                          "from (with NG images; an anomaly model of good parts alone sets it "
                                          "from good parts).")
        self.max_reject = _percent_box(0.0, 50.0, " % of good parts", "A threshold that would reject more good "
                                       "parts than this is not used: the best threshold within it is stored and "
                                       "the model is marked not ready for the station when it then misses the "
                                       "defect target.")
        self.max_bank = _spin(64, 65_536, "PatchCore keeps at most this many good patches (chosen to cover the "
                                          "good parts' variety); more: a little more accurate, slower to judge "
                                          "each frame at the station.", " patches", 256)
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
        self.class_weighting = _combo(WEIGHTING_CHOICES, "When one class has more images, errors on the smaller "
                                                         "class count more, so it is not ignored. Automatic: on "
                                                         "when a class has less than a quarter of the images.")
        self.early_stopping = QCheckBox("Early stopping after",
                                        toolTip="Stop when the validation loss has not improved for this many "
                                                "epochs. The best epoch is kept either way.")
        self.patience = _spin(1, 100, "Epochs without improvement before stopping early.", " epochs")
        self.name = QLineEdit(placeholderText="automatic (date and time)",
                              toolTip="A name for the new model in the model list. You can rename it later.")
        self.defaults_button = QPushButton("Restore defaults", toolTip="Back to the recommended options "
                                                                       "(the mode stays).")
        self._lay_out()
        self.set_options(self._base)
        self.set_anomaly_options(self._anomaly_base)
        self._connect()
        self._update_enabled()

    def _lay_out(self) -> None:
        modes = QHBoxLayout()
        modes.setContentsMargins(0, 0, 0, 0)
        modes.addWidget(self.classify_radio)
        modes.addWidget(self.anomaly_radio)
        modes.addStretch(1)
        self._stopping = stopping = QHBoxLayout()
        stopping.setContentsMargins(0, 0, 0, 0)
        stopping.addWidget(self.early_stopping)
        stopping.addWidget(self.patience)
        stopping.addStretch(1)
        self.form = form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Train", modes)
        form.addRow("Preset", self.preset)
        form.addRow("Method", self.method)
        form.addRow("Input size", self.input_size)
        form.addRow("Threshold folds", self.folds)
        form.addRow("Flips and turns", self.orientation)
        form.addRow("", self.fine_tune)
        form.addRow("Memory bank", self.max_bank)
        form.addRow("Catch at least", self.target_recall)
        form.addRow("Reject at most", self.max_reject)
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

    def _connect(self) -> None:
        for box in (self.epochs, self.hard_share, self.batch_size, self.image_size, self.val_split, self.seed,
                    self.patience, self.folds):
            box.valueChanged.connect(self._on_field_changed)
        for box in (self.learning_rate, self.target_recall, self.max_reject, self.max_bank):
            box.valueChanged.connect(self._on_field_changed)
        for check in (self.augment, self.early_stopping, self.fine_tune):
            check.toggled.connect(self._on_field_changed)
        for combo in (self.class_weighting, self.preset, self.method, self.orientation):
            combo.currentIndexChanged.connect(self._on_field_changed)
        self.input_size.textChanged.connect(self._on_field_changed)
        self.anomaly_radio.toggled.connect(self._on_field_changed)
        self.defaults_button.clicked.connect(self._on_defaults_clicked)

    # ---- what to train ------------------------------------------------------------------------------
    def mode(self) -> str:
        return ANOMALY if self.anomaly_radio.isChecked() else CLASSIFY

    def is_anomaly(self) -> bool:
        return self.mode() == ANOMALY

    def set_mode(self, mode: str) -> None:
        """Choose "classify" or "anomaly" as a click on its button would."""
        (self.anomaly_radio if mode == ANOMALY else self.classify_radio).setChecked(True)

    def options(self) -> TrainOptions:
        """The classifier's options (whatever the mode)."""
        return replace(self._base, epochs=self.epochs.value() or None,
                       hard_example_fraction=self.hard_share.value() / 100.0,
                       batch_size=self.batch_size.value(),
                       learning_rate=self.learning_rate.value(), image_size=self.image_size.value(),
                       val_split=self.val_split.value() / 100.0, seed=self.seed.value(),
                       augment=self.augment.isChecked(), class_weighting=self.class_weighting.currentData(),
                       early_stopping=self.early_stopping.isChecked(), patience=self.patience.value(),
                       preset=self.preset.currentData(), input_size=self._input_size_text(),
                       folds=self.folds.value(), orientation_variants=self.orientation.currentData(),
                       fine_tune=self.fine_tune.isChecked(), target_ng_recall=self.target_recall.value() / 100.0,
                       max_false_reject=self.max_reject.value() / 100.0)

    def anomaly_options(self) -> AnomalyOptions:
        """The anomaly model's options (whatever the mode)."""
        return replace(self._anomaly_base, method=self.method.currentData(), input_size=self._input_size_text(),
                       seed=self.seed.value(), max_bank=self.max_bank.value(),
                       target_ng_recall=self.target_recall.value() / 100.0,
                       max_false_reject=self.max_reject.value() / 100.0)

    def run_options(self) -> TrainOptions | AnomalyOptions:
        """What Start trains with in the chosen mode."""
        return self.anomaly_options() if self.is_anomaly() else self.options()

    def set_options(self, options: TrainOptions) -> None:
        self._base = options
        widgets = (self.epochs, self.hard_share, self.batch_size, self.learning_rate, self.image_size,
                   self.val_split, self.seed, self.augment, self.class_weighting, self.early_stopping, self.patience,
                   self.preset, self.input_size, self.folds, self.orientation, self.fine_tune, self.target_recall,
                   self.max_reject)
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
        self.preset.setCurrentIndex(max(0, self.preset.findData(options.preset)))
        self.input_size.setText("" if options.input_size == "auto" else options.input_size)
        self.folds.setValue(options.folds)
        self.orientation.setCurrentIndex(max(0, self.orientation.findData(options.orientation_variants)))
        self.fine_tune.setChecked(options.fine_tune)
        self.target_recall.setValue(100.0 * options.target_ng_recall)
        self.max_reject.setValue(100.0 * options.max_false_reject)
        for w in widgets:
            w.blockSignals(False)
        self._update_enabled()
        self.options_changed.emit()

    def set_anomaly_options(self, options: AnomalyOptions) -> None:
        self._anomaly_base = options
        for w in (self.method, self.max_bank):
            w.blockSignals(True)
        self.method.setCurrentIndex(max(0, self.method.findData(options.method)))
        self.max_bank.setValue(options.max_bank)
        for w in (self.method, self.max_bank):
            w.blockSignals(False)
        if self.is_anomaly():
            self.input_size.setText("" if options.input_size == "auto" else options.input_size)
            self.seed.setValue(options.seed)
        self._update_enabled()
        self.options_changed.emit()

    def model_name(self) -> str | None:
        return self.name.text().strip() or None

    # ---- internals ----------------------------------------------------------------------------------
    def _input_size_text(self) -> str:
        return self.input_size.text().strip() or "auto"

    @Slot()
    def _on_field_changed(self, *_args) -> None:
        self._update_enabled()
        self.options_changed.emit()

    def _update_enabled(self) -> None:
        """Show the rows the chosen mode and preset use; hide the others."""
        anomaly = self.is_anomaly()
        preset = self.preset.currentData()
        reference = not anomaly and preset == "reference"
        pretrained = not anomaly and preset == "pretrained"
        rows = {self.preset: not anomaly, self.method: anomaly, self.input_size: not reference,
                self.folds: pretrained, self.orientation: pretrained, self.fine_tune: pretrained,
                self.max_bank: anomaly and self.method.currentData() == "patchcore"}
        for widget in (self.epochs, self.hard_share, self.batch_size, self.learning_rate, self.image_size,
                       self.val_split, self.augment, self.class_weighting, self._stopping):
            rows[widget] = reference
        for widget, visible in rows.items():
            self.form.setRowVisible(widget, visible)
        self.patience.setEnabled(self.early_stopping.isChecked())
        epochs = self.epochs.value()
        self.hard_share.setEnabled(epochs == 0 or epochs > 2)  # automatic plans at least 4 epochs

    @Slot()
    def _on_defaults_clicked(self) -> None:
        self.set_options(TrainOptions())
        self.set_anomaly_options(AnomalyOptions())
