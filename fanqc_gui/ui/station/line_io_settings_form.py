"""The "Line I/O" part of the Settings dialog: the station's name on the line, the Modbus TCP server for the PLC,
the MQTT output, the trigger mode the Camera page starts in and how triggers become judged frames.

The form wraps a core LineIOSettings: it shows one, and `line_io()` builds a new one, which checks every value
(core/station/line_io/line_settings.py) and raises ValueError naming the field, the value and what is allowed.
The MQTT password is never shown back: the field stays empty ("type to replace"), and what is typed goes to
the station's secret file when the dialog is accepted (never to station.json).
"""
from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.station.line_io.line_settings import (
    PASSWORD_ENV,
    LineIOSettings,
    ModbusSettings,
    secret_path,
)
from fanqc_gui.core.station.line_io.register_map import REGISTER_COUNT

# the trigger modes as the Camera page names them (its mode box lists them in this order)
MODE_LABELS = (("continuous", "Continuous"), ("triggered", "Software trigger"), ("interval", "Every N ms"),
               ("plc", "PLC (Modbus)"), ("mqtt", "MQTT message"), ("presence", "Part presence"))


def _spin(low: int, high: int, value: int, suffix: str = "", special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    if special:
        box.setSpecialValueText(special)
    return box


class LineIOForm(QWidget):
    def __init__(self, line: LineIOSettings, station_name: str, mode: str = "continuous",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._line = line
        self._station_name = station_name
        m, q, t = line.modbus, line.mqtt, line.trigger

        self.line_name = QLineEdit(line.line_name)
        self.line_name.setPlaceholderText(f"{station_name} (the station's name)")
        self.line_name.setToolTip("The station's name in MQTT topics and messages: no '/', '+' or '#', at most "
                                  "64 characters")
        self.default_mode = QComboBox()
        for key, title in MODE_LABELS:
            self.default_mode.addItem(title, key)
        self.default_mode.setCurrentIndex(max(0, self.default_mode.findData(mode)))
        station = QGroupBox("Station on the line")
        form = QFormLayout(station)
        form.addRow("Name on the line", self.line_name)
        form.addRow("Trigger mode", self.default_mode)

        self.modbus_on = QCheckBox("Modbus TCP server for the PLC (handshake and results)")
        self.modbus_on.setChecked(m.enabled)
        self.modbus_host = QLineEdit(m.host)
        self.modbus_host.setToolTip("The address to listen on: 0.0.0.0 = every network card")
        self.modbus_port = _spin(1, 65535, max(1, m.port))
        self.register_base = _spin(0, 65536 - REGISTER_COUNT, m.register_base)
        self.register_base.setToolTip("Protocol address of the first register (0 = holding register 40001); "
                                      "docs/line_io.md has the register map")
        self.ack_timeout = _spin(0, 3_600_000, m.ack_timeout_ms, " ms", special="wait for the PLC's ack")
        self.ack_timeout.setSingleStep(100)
        modbus = QGroupBox("PLC (Modbus TCP)")
        form = QFormLayout(modbus)
        form.addRow(self.modbus_on)
        form.addRow("Listen on", _pair(self.modbus_host, QLabel("port"), self.modbus_port))
        form.addRow("Register base", _pair(self.register_base, QLabel("ack timeout"), self.ack_timeout))

        self.mqtt_on = QCheckBox("Send each verdict and the station status to an MQTT broker")
        self.mqtt_on.setChecked(q.enabled)
        self.mqtt_host = QLineEdit(q.host)
        self.mqtt_port = _spin(1, 65535, q.port)
        self.topic_prefix = QLineEdit(q.topic_prefix)
        self.mqtt_user = QLineEdit(q.username)
        self.mqtt_user.setPlaceholderText("none")
        self.mqtt_password = QLineEdit()
        self.mqtt_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.mqtt_password.setPlaceholderText(self._password_hint())
        self.mqtt_password.setToolTip("Never shown, printed or saved in station.json: kept in a file only you can "
                                      "read beside it (or set $FANQC_MQTT_PASSWORD)")
        self.forget_password = QCheckBox("forget it")
        self.forget_password.setToolTip("Remove the saved MQTT password")
        self.forget_password.setEnabled(secret_path(station_name).is_file())
        self.tls = QCheckBox("TLS")
        self.tls.setChecked(q.tls)
        self.outbox_limit = _spin(100, 10_000_000, q.outbox_limit, " messages")
        self.outbox_limit.setSingleStep(1000)
        self.outbox_limit.setToolTip("Results kept on disk while the broker is away; beyond this the oldest "
                                     "waiting ones are dropped (the inspection log keeps every verdict)")
        mqtt = QGroupBox("MQTT")
        form = QFormLayout(mqtt)
        form.addRow(self.mqtt_on)
        form.addRow("Broker", _pair(self.mqtt_host, QLabel("port"), self.mqtt_port, self.tls))
        form.addRow("Topic prefix", self.topic_prefix)
        form.addRow("User", _pair(self.mqtt_user, QLabel("password"), self.mqtt_password, self.forget_password))
        form.addRow("Outbox", self.outbox_limit)

        self.frame_timeout = _spin(50, 60_000, t.frame_timeout_ms, " ms")
        self.frame_timeout.setToolTip("A trigger that gets no fresh frame in this time is answered ERROR")
        self.trigger_delay = _spin(0, 10_000, t.delay_ms, " ms")
        self.trigger_delay.setToolTip("Judge a frame taken at least this long after the trigger (the part settles)")
        self.presence_frames = _spin(1, 100, t.presence_frames, " frames")
        self.presence_frames.setToolTip("Part presence: the part holds still this many frames before it is judged")
        triggers = QGroupBox("Triggers")
        form = QFormLayout(triggers)
        form.addRow("Frame timeout", _pair(self.frame_timeout, QLabel("delay"), self.trigger_delay))
        form.addRow("Presence", self.presence_frames)

        self.summary = QLabel(objectName="hint", wordWrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (station, modbus, mqtt, triggers, self.summary):
            layout.addWidget(widget)
        layout.addStretch(1)
        for box in (self.modbus_on, self.mqtt_on):
            box.toggled.connect(self._on_input_changed)
        for edit in (self.line_name, self.topic_prefix, self.modbus_host, self.mqtt_host):
            edit.textChanged.connect(self._on_input_changed)
        for spin in (self.modbus_port, self.register_base, self.mqtt_port):
            spin.valueChanged.connect(self._on_input_changed)
        self._on_input_changed()

    def _password_hint(self) -> str:
        if os.environ.get(PASSWORD_ENV):
            return f"from ${PASSWORD_ENV}"
        if self._line.mqtt.password_file:
            return "from the password file"
        if secret_path(self._station_name).is_file():
            return "saved: type to replace"
        return "none"

    # ---- results ----------------------------------------------------------------------------------------
    def mode(self) -> str:
        return self.default_mode.currentData()

    def password(self) -> str:
        """The password to keep: what was typed, "" when forgotten, else the one already in use."""
        if self.mqtt_password.text():
            return self.mqtt_password.text()
        if self.forget_password.isChecked():
            return ""
        return self._line.mqtt.password

    def line_io(self) -> LineIOSettings:
        """The settings as shown; ValueError ("Line I/O: ...") saying what is wrong."""
        try:
            line = LineIOSettings(
                line_name=self.line_name.text().strip(),
                modbus=ModbusSettings(self.modbus_on.isChecked(), self.modbus_host.text().strip(),
                                      self.modbus_port.value(), self.register_base.value(), self.ack_timeout.value()),
                mqtt=replace(self._line.mqtt, enabled=self.mqtt_on.isChecked(), host=self.mqtt_host.text().strip(),
                             port=self.mqtt_port.value(), topic_prefix=self.topic_prefix.text().strip(),
                             username=self.mqtt_user.text().strip(), password=self.password(),
                             tls=self.tls.isChecked(), outbox_limit=self.outbox_limit.value()),
                trigger=replace(self._line.trigger, frame_timeout_ms=self.frame_timeout.value(),
                                delay_ms=self.trigger_delay.value(), presence_frames=self.presence_frames.value()))
            if line.mqtt.enabled:
                line.name_for(self._station_name)
        except ValueError as exc:
            raise ValueError(f"Line I/O: {exc}") from None
        mode = self.mode()
        if mode == "plc" and not line.modbus.enabled:
            raise ValueError("Line I/O: the PLC trigger mode needs the Modbus TCP server: turn it on, or choose "
                             "another trigger mode")
        if mode == "mqtt" and not line.mqtt.enabled:
            raise ValueError("Line I/O: the MQTT trigger mode needs MQTT: turn it on, or choose another trigger mode")
        return line

    @Slot()
    def _on_input_changed(self, *_) -> None:
        """Where verdicts will go, in one line (and the first problem, as it is typed)."""
        for w in (self.modbus_host, self.modbus_port, self.register_base, self.ack_timeout):
            w.setEnabled(self.modbus_on.isChecked())
        for w in (self.mqtt_host, self.mqtt_port, self.topic_prefix, self.mqtt_user, self.mqtt_password,
                  self.tls, self.outbox_limit):
            w.setEnabled(self.mqtt_on.isChecked())
        parts = []
        if self.modbus_on.isChecked():
            base = self.register_base.value()
            low = " (below 1024 needs administrator rights on Linux)" if self.modbus_port.value() < 1024 else ""
            parts.append(f"PLC: holding registers {40001 + base}-{40001 + base + REGISTER_COUNT - 1} on port "
                         f"{self.modbus_port.value()}{low}")
        if self.mqtt_on.isChecked():
            name = self.line_name.text().strip() or self._station_name
            parts.append(f"MQTT: results on {self.topic_prefix.text().strip()}/{name}/result")
        self.summary.setText(". ".join(parts) + "." if parts else "Verdicts stay on this computer (the "
                                                                  "inspection log and captures).")


def _pair(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        layout.addWidget(w, 1 if i == 0 else 0)
    return row
