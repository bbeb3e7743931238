"""Which judged frames the station keeps in captures/: NG frames, a share of GO frames, a rate limit and a
free-space guard. The form is also part of the Settings dialog."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.station.station_settings import CaptureRules


class CaptureRulesForm(QWidget):
    def __init__(self, rules: CaptureRules, parent: QWidget | None = None):
        super().__init__(parent)
        self.save_ng = QCheckBox("Save every NG frame (within the rate limit)")
        self.go_percent = QDoubleSpinBox()
        self.go_percent.setRange(0.0, 100.0)
        self.go_percent.setDecimals(1)
        self.go_percent.setSuffix(" %")
        self.go_percent.setToolTip("Share of GO frames saved too, spread evenly (for checking the model's GO calls)")
        self.per_minute = QSpinBox()
        self.per_minute.setRange(0, 100_000)
        self.per_minute.setSuffix(" per minute")
        self.min_free = QSpinBox()
        self.min_free.setRange(0, 1_000_000)
        self.min_free.setSuffix(" MB")
        self.min_free.setToolTip("Stop saving images (never inspecting) when the disk has less free space")
        self.image_format = QComboBox()
        self.image_format.addItem("JPEG (quality 95)", "jpg")
        self.image_format.addItem("PNG (lossless)", "png")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.save_ng)
        form.addRow("GO frames saved", self.go_percent)
        form.addRow("At most", self.per_minute)
        form.addRow("Keep free on disk", self.min_free)
        form.addRow("Image format", self.image_format)
        self.set_rules(rules)

    def set_rules(self, rules: CaptureRules) -> None:
        self.save_ng.setChecked(rules.save_ng)
        self.go_percent.setValue(rules.go_fraction * 100.0)
        self.per_minute.setValue(rules.max_per_minute)
        self.min_free.setValue(rules.min_free_mb)
        self.image_format.setCurrentIndex(max(0, self.image_format.findData(rules.image_format)))

    def rules(self) -> CaptureRules:
        return CaptureRules(save_ng=self.save_ng.isChecked(), go_fraction=self.go_percent.value() / 100.0,
                            max_per_minute=self.per_minute.value(), min_free_mb=self.min_free.value(),
                            image_format=self.image_format.currentData())


class CaptureRulesDialog(QDialog):
    def __init__(self, rules: CaptureRules, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Capture rules")
        self.form = CaptureRulesForm(rules)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(buttons)

    def rules(self) -> CaptureRules:
        return self.form.rules()
