"""Help > About: what this installation is made of (versions read without importing TensorFlow) and where
it keeps its files; Copy puts the same as plain text on the clipboard for a support request."""
from __future__ import annotations

import html

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from fanqc_gui.core.app_settings import default_model_store
from fanqc_gui.core.paths import user_config_dir, user_data_dir
from fanqc_gui.core.tf_runtime import install_advice
from fanqc_gui.core.versions import component_versions


def about_facts() -> list[tuple[str, str]]:
    v = component_versions()
    tf = v["TensorFlow"] or f"not installed: training, Grad-CAM and feature maps are off ({install_advice()})"
    return [
        ("FanQC", v["FanQC"]), ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("TensorFlow", tf), ("Keras", v["Keras"] or "-"), ("OpenCV", v["OpenCV"] or "-"),
        ("LiteRT", v["LiteRT"] or "not installed"), ("NumPy", v["NumPy"] or "-"), ("Python", v["Python"]),
        ("Settings", str(user_config_dir())), ("Data", str(user_data_dir())), ("Models", str(default_model_store())),
    ]


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About FanQC")
        self.facts = about_facts()
        title = QLabel("<b style='font-size:16pt'>FanQC</b><br>GO/NG visual inspection with a CNN the shop floor "
                       "trains itself.")
        rows = "".join(f"<tr><td style='padding-right:14px'><b>{html.escape(k)}</b></td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in self.facts)
        table = QLabel(f"<table>{rows}</table>", textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(table)
        layout.addWidget(buttons)

    def text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.facts)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
