"""One line under the live view that says where verdicts go: each line output's connection, coloured, e.g.
"● Modbus: 1 PLC connected on 0.0.0.0:502   ● MQTT offline: 12 messages waiting in the outbox". The page
feeds it the OutputStatus list the camera worker reports with its stats."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from fanqc_gui.core.station.line_io.results import OutputStatus
from fanqc_gui.ui.theme import colour

TITLES = {"modbus": "Modbus", "mqtt": "MQTT"}
IDLE = "Line I/O: off (Edit > Settings > Line I/O sends verdicts to a PLC or MQTT)"


def output_text(status: OutputStatus) -> str:
    """What the operator reads for one output."""
    title = TITLES.get(status.name, status.name)
    if status.name == "mqtt":
        waiting = f"{status.waiting} message{'s' if status.waiting != 1 else ''} waiting in the outbox"
        dropped = f", {status.dropped} dropped (outbox full)" if status.dropped else ""
        if status.state == "connected":
            return f"{title}: {status.detail}"
        if status.state in ("disconnected", "refused"):
            return f"{title} offline: {waiting}{dropped} ({status.detail.split(',')[0]})"
        if status.waiting:
            return f"{title} {status.state}: {waiting}{dropped}"
    return f"{title}: {status.detail}"


class LineStatus(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel(IDLE)
        self.label.setObjectName("lineStatus")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        self.outputs: list[OutputStatus] = []
        self._enabled: list[str] = []
        self._plain = IDLE

    def set_configured(self, names: list[str]) -> None:
        """While idle: which outputs the next Start opens (from the Line I/O settings)."""
        self._enabled = list(names)
        if not self.outputs:
            self._render()

    def show_outputs(self, outputs: list[OutputStatus]) -> None:
        self.outputs = list(outputs)
        self._render()

    def text(self) -> str:
        """What it says, without the colours."""
        return self._plain

    def _render(self) -> None:
        if self.outputs:
            parts = []
            for status in self.outputs:
                tint = colour("goText" if status.ok else "ngText").name()
                parts.append(f"<span style='color:{tint}'>&#9679;</span> {_escape(output_text(status))}")
            self.label.setText("&nbsp;&nbsp;&nbsp;".join(parts))
            self._plain = "   ".join(output_text(s) for s in self.outputs)
        elif self._enabled:
            names = " and ".join(TITLES.get(n, n) for n in self._enabled)
            self._plain = f"Line I/O: {names} start with the station"
            self.label.setText(_escape(self._plain))
        else:
            self._plain = IDLE
            self.label.setText(_escape(IDLE))
        self.label.setToolTip(self._plain)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
