"""The "line_io" section of a station's settings: which outputs are on, where they listen or connect, and how
triggers behave. Every value is checked when the settings are built; a bad one is a ValueError whose message
names the field, the value and what is allowed (the Settings dialog shows it as it is).

The MQTT password never goes into station.json, a log, a message or a JSON document: it comes from
$FANQC_MQTT_PASSWORD, a password file the settings name, or a file only the user can read that the Settings
dialog writes beside station.json (`secrets/mqtt-password-<station>`, mode 0600).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from fanqc_gui.core.paths import user_config_dir

PASSWORD_ENV = "FANQC_MQTT_PASSWORD"
MAX_PART_ID = 32      # characters, as the register map holds them
MAX_LOT_ID = 16


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _whole(name: str, value, low: int, high: int, unit: str = "") -> None:
    _check(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
           f"{name} {value!r} must be a whole number from {low} to {high}{unit}")


def host_problem(host: str) -> str | None:
    """Why a host name or address cannot be used, or None."""
    if not isinstance(host, str) or not host.strip():
        return "is empty: give a host name or an IP address"
    if len(host) > 253 or re.search(r"[\s/@\\]", host) or "://" in host:
        return "must be a host name or an IP address only (no scheme, user, password or path)"
    return None


def topic_level_problem(text: str) -> str | None:
    """Why text cannot be one MQTT topic level (a station name in the topics), or None."""
    if not isinstance(text, str) or not text.strip():
        return "is empty"
    if len(text) > 64:
        return "is longer than 64 characters"
    if re.search(r"[/+#\x00]", text):
        return "may not contain '/', '+', '#' or NUL (they have a meaning in MQTT topics)"
    return None


@dataclass(frozen=True)
class ModbusSettings:
    """The station as a Modbus TCP server; the PLC is the client (docs/line_io.md has the register map)."""

    enabled: bool = False
    host: str = "0.0.0.0"      # the address to listen on (0.0.0.0: every network card)
    port: int = 502            # 0: a free port chosen at start (tests, benchmarks)
    register_base: int = 0     # protocol address of the first register (4xxxx notation: base + 40001)
    ack_timeout_ms: int = 0    # 0: a result waits for the PLC's ack for ever; else it is given up after this

    def __post_init__(self):
        if (why := host_problem(self.host)) is not None:
            raise ValueError(f"Modbus listen address {self.host!r} {why}")
        _whole("Modbus port", self.port, 0, 65535)
        from fanqc_gui.core.station.line_io.register_map import REGISTER_COUNT

        _whole("Modbus register base", self.register_base, 0, 65536 - REGISTER_COUNT,
               f" (the map needs {REGISTER_COUNT} registers)")
        _check(self.ack_timeout_ms == 0 or (isinstance(self.ack_timeout_ms, int) and
                                            50 <= self.ack_timeout_ms <= 3_600_000),
               f"Modbus ack timeout {self.ack_timeout_ms!r} ms must be 0 (wait for the PLC's ack for ever) "
               f"or from 50 to 3600000 ms")


@dataclass(frozen=True)
class MqttSettings:
    """Results and station status to an MQTT broker; in the mqtt trigger mode, triggers from it too."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    topic_prefix: str = "fanqc"     # topics are <prefix>/<station>/result, .../status, .../trigger
    username: str = ""
    password: str = field(default="", repr=False)  # never saved in station.json, never shown
    password_file: str = ""         # a file holding the password (its first line), e.g. a service's secret
    tls: bool = False
    outbox_limit: int = 100_000     # messages kept on disk while the broker is away

    def __post_init__(self):
        if (why := host_problem(self.host)) is not None:
            raise ValueError(f"MQTT broker address {self.host!r} {why}")
        _whole("MQTT port", self.port, 1, 65535)
        prefix = self.topic_prefix
        _check(isinstance(prefix, str) and 0 < len(prefix) <= 100,
               f"MQTT topic prefix {prefix!r} must be 1 to 100 characters")
        _check(not re.search(r"[+#\x00]", prefix), f"MQTT topic prefix {prefix!r} may not contain '+', '#' or NUL")
        _check(not prefix.startswith("/") and not prefix.endswith("/") and "//" not in prefix,
               f"MQTT topic prefix {prefix!r} may not start or end with '/' or hold an empty level ('//')")
        _check(isinstance(self.username, str) and len(self.username) <= 256, "MQTT user name is too long")
        _whole("MQTT outbox limit", self.outbox_limit, 100, 10_000_000, " messages")


@dataclass(frozen=True)
class TriggerSettings:
    """How a trigger becomes a judged frame, and how part presence is seen in the ROI."""

    frame_timeout_ms: int = 1000    # a trigger that gets no fresh frame in this time is answered ERROR
    delay_ms: int = 0               # judge a frame taken at least this long after the trigger (settling)
    presence_frames: int = 3        # presence: the ROI holds still this many frames before it is judged
    presence_change: float = 12.0   # presence: mean grey-level difference from the empty ROI that means a part
    presence_still: float = 3.0     # presence: mean difference between two frames that still counts as still

    def __post_init__(self):
        _whole("frame timeout", self.frame_timeout_ms, 50, 60_000, " ms")
        _whole("trigger delay", self.delay_ms, 0, 10_000, " ms")
        _whole("presence still frames", self.presence_frames, 1, 100)
        _check(isinstance(self.presence_change, (int, float)) and 0.5 <= self.presence_change <= 255,
               f"presence change level {self.presence_change!r} must be from 0.5 to 255 grey levels")
        _check(isinstance(self.presence_still, (int, float)) and 0.1 <= self.presence_still < self.presence_change,
               f"presence still level {self.presence_still!r} must be from 0.1 grey levels and below the change "
               f"level ({self.presence_change})")


@dataclass(frozen=True)
class LineIOSettings:
    line_name: str = ""   # the station's name on the line (topics, messages); "" = the station's own name
    modbus: ModbusSettings = field(default_factory=ModbusSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    trigger: TriggerSettings = field(default_factory=TriggerSettings)
    # why a saved section was not usable (the defaults are used instead); shown by the app and `fanqc inspect`
    problem: str = field(default="", compare=False)

    def __post_init__(self):
        if self.line_name and (why := topic_level_problem(self.line_name)) is not None:
            raise ValueError(f"station name on the line {self.line_name!r} {why}")

    def name_for(self, station_name: str) -> str:
        """The name used in topics and messages; ValueError when it cannot be a topic level."""
        name = self.line_name or station_name
        if (why := topic_level_problem(name)) is not None:
            raise ValueError(f"station name {name!r} {why}; set a station name on the line in the Line I/O "
                             f"settings")
        return name

    def with_changes(self, **changes) -> "LineIOSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """For station.json: everything but the password."""
        mqtt = {f.name: getattr(self.mqtt, f.name) for f in fields(MqttSettings) if f.name != "password"}
        return {"line_name": self.line_name, "modbus": _plain(self.modbus), "mqtt": mqtt,
                "trigger": _plain(self.trigger)}

    @classmethod
    def from_dict(cls, data: dict) -> "LineIOSettings":
        """ValueError (with the reason) when a value is wrong; unknown keys are ignored."""
        if not isinstance(data, dict):
            raise ValueError("the line_io section is not an object")
        return cls(line_name=str(data.get("line_name", "")),
                   modbus=_build(ModbusSettings, data.get("modbus")),
                   mqtt=_build(MqttSettings, {k: v for k, v in (data.get("mqtt") or {}).items() if k != "password"}),
                   trigger=_build(TriggerSettings, data.get("trigger")))


def _plain(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _build(cls, data):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ValueError(f"the {cls.__name__} entry is not an object")
    try:
        return cls(**{k: data[k] for k in (f.name for f in fields(cls)) if k in data})
    except TypeError as exc:
        raise ValueError(str(exc)) from None


# ---- the password, kept out of every JSON file ------------------------------------------------------------
def secret_path(station_name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", station_name) or "default"
    return user_config_dir() / "secrets" / f"mqtt-password-{safe}"


def load_mqtt_password(station_name: str, mqtt: MqttSettings) -> str:
    """$FANQC_MQTT_PASSWORD, else the first line of the settings' password file, else the station's own
    secret file; "" when none is there."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    for path in (Path(mqtt.password_file).expanduser() if mqtt.password_file else None, secret_path(station_name)):
        if path is None:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        return text.splitlines()[0] if text else ""
    return ""


def save_mqtt_password(station_name: str, password: str) -> None:
    """Keep the password in a file only this user can read (removed when the password is empty)."""
    path = secret_path(station_name)
    if not password:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
