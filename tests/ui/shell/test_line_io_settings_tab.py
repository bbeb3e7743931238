"""Edit > Settings… > Line I/O, used like a supervisor does: wrong values are refused with a message that names
the field and what is allowed; accepted values reach station.json and the Camera page; the MQTT password goes
to the station's secret file only, and is never shown back."""
from __future__ import annotations

import stat

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from fanqc_gui.core.station.line_io.line_settings import secret_path
from fanqc_gui.core.station.station_settings import load_station_settings, settings_path

PASSWORD = "s3cr3t-Pw!"


def line_tab(qtbot, app_parts):
    dialog = app_parts.settings_actions.settings_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.tabs.setCurrentIndex(2)  # the Line I/O tab
    assert dialog.line_io.isVisible()
    return dialog, dialog.line_io


def retype(edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    QTest.keyClicks(edit, text) if text else QTest.keyClick(edit, Qt.Key.Key_Delete)


def refused(dialog, *words: str) -> str:
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    text = dialog.error.text()
    assert all(w in text for w in words), text
    assert dialog.tabs.currentIndex() == 2  # the tab with the problem is shown
    return text


@pytest.mark.parametrize("field, value, words", [
    ("topic_prefix", "plant/#", ("MQTT topic prefix 'plant/#'", "may not contain '+', '#'")),
    ("topic_prefix", "/plant", ("MQTT topic prefix '/plant'", "may not start or end with '/'")),
    ("line_name", "cell/3", ("station name on the line 'cell/3'", "may not contain '/'")),
    ("mqtt_host", "mqtt://broker", ("MQTT broker address 'mqtt://broker'", "host name or an IP address only")),
    ("modbus_host", "", ("Modbus listen address ''", "is empty")),
])
def test_a_wrong_value_is_refused_with_what_is_allowed(qtbot, app_parts, field, value, words):
    before = settings_path().read_bytes() if settings_path().exists() else None
    dialog, form = line_tab(qtbot, app_parts)
    qtbot.mouseClick(form.modbus_on, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(form.mqtt_on, Qt.MouseButton.LeftButton)
    retype(getattr(form, field), value)
    dialog.tabs.setCurrentIndex(0)  # OK pressed on another tab: the Line I/O tab comes back with the message
    text = refused(dialog, "Line I/O:", *words)
    assert text.count("\n") == 0  # one line
    assert (settings_path().read_bytes() if settings_path().exists() else None) == before  # nothing saved


def test_numbers_and_modes_that_do_not_go_together_are_refused(qtbot, app_parts):
    dialog, form = line_tab(qtbot, app_parts)
    form.default_mode.setCurrentIndex(form.default_mode.findData("plc"))
    refused(dialog, "PLC trigger mode needs the Modbus TCP server")
    qtbot.mouseClick(form.modbus_on, Qt.MouseButton.LeftButton)
    form.ack_timeout.setValue(10)
    refused(dialog, "Modbus ack timeout 10 ms", "or from 50 to 3600000 ms")
    form.ack_timeout.setValue(0)
    form.default_mode.setCurrentIndex(form.default_mode.findData("mqtt"))
    refused(dialog, "MQTT trigger mode needs MQTT")
    qtbot.mouseClick(form.mqtt_on, Qt.MouseButton.LeftButton)
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted


def test_accepted_settings_reach_the_station_and_the_password_stays_secret(qtbot, app_parts, caplog):
    dialog, form = line_tab(qtbot, app_parts)
    qtbot.mouseClick(form.modbus_on, Qt.MouseButton.LeftButton)
    form.modbus_port.setValue(5020)
    form.register_base.setValue(100)
    qtbot.mouseClick(form.mqtt_on, Qt.MouseButton.LeftButton)
    retype(form.mqtt_host, "broker.line3.local")
    retype(form.topic_prefix, "plant/hall-2")
    retype(form.line_name, "cell-3")
    retype(form.mqtt_user, "station3")
    assert form.mqtt_password.echoMode() == QLineEdit.EchoMode.Password
    QTest.keyClicks(form.mqtt_password, PASSWORD)
    form.default_mode.setCurrentIndex(form.default_mode.findData("plc"))
    assert "plant/hall-2/cell-3/result" in form.summary.text() and "40101-" in form.summary.text()
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    app_parts.settings_actions.apply(dialog.app_settings(), dialog.station_settings())

    saved = load_station_settings()
    line = saved.line_io
    assert (line.modbus.enabled, line.modbus.port, line.modbus.register_base) == (True, 5020, 100)
    assert (line.mqtt.host, line.mqtt.topic_prefix, line.line_name, line.mqtt.username) == \
        ("broker.line3.local", "plant/hall-2", "cell-3", "station3")
    assert saved.mode == "plc" and line.mqtt.password == PASSWORD  # read back from the secret file
    assert PASSWORD not in settings_path().read_text()
    secret = secret_path(saved.name)
    assert secret.read_text().strip() == PASSWORD and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert PASSWORD not in caplog.text and PASSWORD not in repr(saved)
    camera = app_parts.camera
    assert camera.mode_box.currentData() == "plc"
    assert camera.line_status.text() == "Line I/O: Modbus and MQTT start with the station"

    again, form = line_tab(qtbot, app_parts)  # never shown back
    assert form.mqtt_password.text() == "" and form.mqtt_password.placeholderText() == "saved: type to replace"
    assert all(PASSWORD not in e.text() for e in again.findChildren(QLineEdit))
    assert form.modbus_port.value() == 5020 and form.line_name.text() == "cell-3"
    qtbot.mouseClick(form.forget_password, Qt.MouseButton.LeftButton)
    again.accept()
    app_parts.settings_actions.apply(again.app_settings(), again.station_settings())
    assert not secret.exists() and load_station_settings().line_io.mqtt.password == ""
