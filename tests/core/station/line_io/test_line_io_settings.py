"""The Line I/O settings section (validation, station.json, the password kept out of it) and the register map
(its encodings, and docs/line_io.md telling the same map as the code)."""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.station.line_io.line_settings import (
    PASSWORD_ENV,
    LineIOSettings,
    ModbusSettings,
    MqttSettings,
    TriggerSettings,
    save_mqtt_password,
    secret_path,
)
from fanqc_gui.core.station.station_settings import (
    Roi,
    StationSettings,
    load_station_settings,
    save_station_settings,
    settings_path,
)

DOC = Path(__file__).resolve().parents[4] / "docs" / "line_io.md"


def test_the_register_map_has_no_gap_or_overlap_and_the_doc_tells_the_same():
    covered = []
    for reg in rm.REGISTERS:
        covered += range(reg.offset, reg.offset + reg.count)
        assert reg.access == ("R" if reg.offset < rm.STATION_END else "W"), reg
    assert covered == list(range(rm.REGISTER_COUNT))
    assert rm.PART_ID + rm.PART_ID_REGS == rm.LOT_ID and rm.LOT_ID + rm.LOT_ID_REGS == rm.TRIGGER  # one write
    doc = DOC.read_text(encoding="utf-8")
    for reg in rm.REGISTERS:
        where = str(reg.offset) if reg.count == 1 else f"{reg.offset}-{reg.offset + reg.count - 1}"
        assert re.search(rf"\|\s*{where}\s*\|\s*{reg.name}\s*\|", doc), f"{where} {reg.name} missing in {DOC}"
    for code, text in rm.ERROR_TEXT.items():
        if code:
            assert re.search(rf"\|\s*{code}\s*\|", doc), f"code {code} ({text}) not documented"


def test_ids_and_counters_are_encoded_as_a_plc_reads_them():
    regs = rm.text_to_registers("AB-17", rm.PART_ID_REGS)
    assert len(regs) == 16 and regs[0] == (ord("A") << 8) | ord("B") and regs[3:] == [0] * 13
    assert rm.registers_to_text(regs) == "AB-17"
    assert rm.registers_to_text(rm.text_to_registers("x" * 40, 16)) == "x" * 32   # cut to the registers
    assert rm.registers_to_text(rm.text_to_registers("Zoë", 4)) == "Zo?"          # ASCII only
    assert rm.registers_to_text([0x4101, 0x4200]) == "A?B"
    assert rm.from_u32(*rm.u32(70_000)) == 70_000 and rm.u32(-5) == [0, 0] and rm.u32(2 ** 40) == [0xFFFF] * 2
    assert rm.scaled(0.12345) == 1234 and rm.scaled(1.5) == 10_000 and rm.scaled(float("nan")) == 0
    assert rm.latency_register(3.26) == 33 and rm.latency_register(1e9) == 0xFFFF


@pytest.mark.parametrize("build, words", [
    (lambda: ModbusSettings(port=70000), "Modbus port 70000 must be a whole number from 0 to 65535"),
    (lambda: ModbusSettings(register_base=65530), "Modbus register base 65530 must be a whole number from 0 to"),
    (lambda: ModbusSettings(host="plc line"), "Modbus listen address 'plc line' must be a host name or an IP"),
    (lambda: ModbusSettings(ack_timeout_ms=10), "ack timeout 10 ms must be 0 (wait for the PLC's ack for ever)"),
    (lambda: MqttSettings(host=""), "MQTT broker address '' is empty"),
    (lambda: MqttSettings(host="mqtt://broker"), "no scheme, user, password or path"),
    (lambda: MqttSettings(port=0), "MQTT port 0 must be a whole number from 1 to 65535"),
    (lambda: MqttSettings(topic_prefix="plant/#"), "may not contain '+', '#' or NUL"),
    (lambda: MqttSettings(topic_prefix="/plant"), "may not start or end with '/'"),
    (lambda: MqttSettings(outbox_limit=5), "MQTT outbox limit 5 must be a whole number from 100"),
    (lambda: TriggerSettings(presence_change=5.0, presence_still=6.0), "below the change level (5.0)"),
    (lambda: TriggerSettings(frame_timeout_ms=0), "frame timeout 0 must be a whole number from 50"),
    (lambda: LineIOSettings(line_name="line/2"), "may not contain '/', '+', '#'"),
])
def test_wrong_values_are_refused_with_the_field_and_what_is_allowed(build, words):
    with pytest.raises(ValueError) as info:
        build()
    assert words in str(info.value)


def test_line_io_round_trips_through_station_json_without_the_password(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    line = LineIOSettings(line_name="line-4", modbus=ModbusSettings(enabled=True, port=5020, register_base=100),
                          mqtt=MqttSettings(enabled=True, host="broker.plant", topic_prefix="plant/fanqc",
                                            username="station4", password="s3cr3t#pw"),
                          trigger=TriggerSettings(frame_timeout_ms=500, presence_frames=5))
    settings = StationSettings(name="line-4", roi=Roi(1, 2, 30, 40), mode="plc", line_io=line)
    assert "s3cr3t" not in repr(settings)
    save_station_settings(settings)
    text = settings_path().read_text()
    assert "s3cr3t" not in text and "password\"" not in text.replace("password_file", "")
    assert json.loads(text)["stations"]["line-4"]["line_io"]["modbus"]["register_base"] == 100
    loaded = load_station_settings("line-4")
    assert loaded.line_io.mqtt.password == "" and loaded.mode == "plc" and loaded.roi == Roi(1, 2, 30, 40)
    save_mqtt_password("line-4", "s3cr3t#pw")  # what the Settings dialog does with a typed password
    assert stat.S_IMODE(os.stat(secret_path("line-4")).st_mode) == 0o600
    assert load_station_settings("line-4") == settings
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert load_station_settings("line-4").line_io.mqtt.password == "from-env"
    save_mqtt_password("line-4", "")
    assert not secret_path("line-4").exists()


def test_a_wrong_saved_line_io_section_falls_back_alone_and_says_why():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "stations": {"s": {
        "roi": [5, 6, 70, 80], "mode": "presence", "line_io": {"modbus": {"enabled": True, "port": "five"}}}}}))
    loaded = load_station_settings("s")
    assert loaded.roi == Roi(5, 6, 70, 80) and loaded.mode == "presence"   # the rest is kept
    assert loaded.line_io == LineIOSettings() and not loaded.line_io.modbus.enabled
    assert "the saved Line I/O settings were not used: Modbus port 'five' must be" in loaded.line_io.problem


def test_trigger_modes_of_the_station_settings():
    assert StationSettings(mode="software").mode == "triggered"   # the command line's name for it
    for mode in ("continuous", "triggered", "interval", "plc", "mqtt", "presence"):
        assert StationSettings(mode=mode).mode == mode
    with pytest.raises(ValueError, match="unknown mode"):
        StationSettings(mode="opc-ua")
