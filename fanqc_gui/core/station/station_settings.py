"""Per-station settings (ROI, capture rules, trigger mode, last source, line I/O) in a small versioned JSON file.

The file lives in the user's config folder (`station.json`) and holds one entry per station name, so a PC
with two cameras keeps two ROIs. Every save is atomic; a damaged or newer file falls back to defaults
instead of stopping the station. A line I/O section that is not valid falls back to its defaults alone (the
ROI and capture rules are kept) and says why in `line_io.problem`. The MQTT password is never in this file
(line_io/line_settings.py).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from fanqc_gui.core.atomic_io import write_json_atomic
from fanqc_gui.core.paths import user_config_dir
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings, load_mqtt_password

SETTINGS_FILE = "station.json"
SETTINGS_VERSION = 1
DEFAULT_STATION = "default"
# triggered: the operator's key or button ("software" on the command line); plc: the PLC over Modbus; mqtt: a
# message on the trigger topic; presence: a part comes into the ROI and holds still (core/station/line_io/triggers.py)
MODES = ("continuous", "triggered", "interval", "plc", "mqtt", "presence")
MODE_ALIASES = {"software": "triggered"}


@dataclass(frozen=True)
class Roi:
    """A rectangle in frame pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self):
        if self.w < 1 or self.h < 1:
            raise ValueError(f"ROI {self.w}x{self.h} is empty; width and height must be at least 1 pixel")
        if self.x < 0 or self.y < 0:
            raise ValueError(f"ROI starts at ({self.x}, {self.y}); it must start inside the frame")

    @classmethod
    def parse(cls, text: str) -> "Roi | None":
        """'x,y,w,h' in pixels; 'full' (or empty) means the whole frame (None)."""
        text = (text or "").strip().lower()
        if text in ("", "full", "none"):
            return None
        parts = text.replace(" ", "").split(",")
        try:
            values = [int(v) for v in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ValueError(f"ROI '{text}' must be four whole numbers x,y,w,h (pixels), or 'full'")
        return cls(*values)

    def clamped(self, width: int, height: int) -> "Roi | None":
        """This ROI cut to a frame of width x height; None when nothing of it lies inside."""
        x0, y0 = min(self.x, width), min(self.y, height)
        x1, y1 = min(self.x + self.w, width), min(self.y + self.h, height)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        return Roi(x0, y0, x1 - x0, y1 - y0)

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y:self.y + self.h, self.x:self.x + self.w]

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


@dataclass(frozen=True)
class CaptureRules:
    """Which judged frames are saved to captures/ (the ROI crop the model saw)."""

    save_ng: bool = True
    go_fraction: float = 0.02      # share of GO frames kept too (0..1), spread evenly
    max_per_minute: int = 120      # rate limit over all saved frames (burst of a few allowed)
    min_free_mb: int = 500         # stop saving when the disk has less free space than this
    image_format: str = "jpg"      # jpg (quality 95) or png

    def __post_init__(self):
        if not 0.0 <= self.go_fraction <= 1.0:
            raise ValueError(f"GO fraction {self.go_fraction} must be between 0 and 1")
        if self.max_per_minute < 0 or self.min_free_mb < 0:
            raise ValueError("capture rate and free-space limits cannot be negative")
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"capture format {self.image_format!r} must be 'jpg' or 'png'")

    @classmethod
    def from_dict(cls, data: dict) -> "CaptureRules":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass(frozen=True)
class StationSettings:
    name: str = DEFAULT_STATION
    roi: Roi | None = None
    capture: CaptureRules = field(default_factory=CaptureRules)
    mode: str = "continuous"
    interval_ms: int = 1000
    source: str = ""
    source_kind: str = ""
    realtime: bool = False
    workspace: str | None = None
    line_io: LineIOSettings = field(default_factory=LineIOSettings)

    def __post_init__(self):
        if self.mode in MODE_ALIASES:
            object.__setattr__(self, "mode", MODE_ALIASES[self.mode])
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.interval_ms < 10:
            raise ValueError("trigger interval must be at least 10 ms")

    def with_changes(self, **changes) -> "StationSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["roi"] = self.roi.to_list() if self.roi else None
        d["line_io"] = self.line_io.to_dict()  # without the password
        d.pop("name")
        return d

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "StationSettings":
        roi = data.get("roi")
        return cls(name=name, roi=Roi(*roi) if roi else None,
                   capture=CaptureRules.from_dict(data.get("capture") or {}),
                   mode=data.get("mode", "continuous"), interval_ms=int(data.get("interval_ms", 1000)),
                   source=str(data.get("source", "")), source_kind=str(data.get("source_kind", "")),
                   realtime=bool(data.get("realtime", False)), workspace=data.get("workspace"),
                   line_io=_line_io_from(data.get("line_io")))


def _line_io_from(data) -> LineIOSettings:
    if data is None:
        return LineIOSettings()
    try:
        return LineIOSettings.from_dict(data)
    except ValueError as exc:
        return LineIOSettings(problem=f"the saved Line I/O settings were not used: {exc}")


def settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE


def _read_all(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("stations"), dict):
        return {}
    return data


def load_station_settings(name: str = DEFAULT_STATION, path: Path | None = None) -> StationSettings:
    """This station's settings; defaults when the file is missing, damaged, or from a newer FanQC."""
    data = _read_all(path or settings_path())
    if data.get("version", 0) > SETTINGS_VERSION:
        return StationSettings(name=name)
    entry = data.get("stations", {}).get(name)
    if not isinstance(entry, dict):
        return StationSettings(name=name)
    try:
        settings = StationSettings.from_dict(name, entry)
    except (TypeError, ValueError):
        return StationSettings(name=name)
    line_io = settings.line_io
    password = load_mqtt_password(name, line_io.mqtt)
    if password:
        settings = settings.with_changes(line_io=line_io.with_changes(mqtt=replace(line_io.mqtt, password=password)))
    return settings


def save_station_settings(settings: StationSettings, path: Path | None = None) -> None:
    """Write this station's entry atomically, keeping the other stations' entries."""
    path = path or settings_path()
    data = _read_all(path)
    if data.get("version", 0) > SETTINGS_VERSION:
        raise ValueError(f"{path} was written by a newer FanQC; not overwriting it")
    stations = dict(data.get("stations", {}))
    stations[settings.name] = settings.to_dict()
    write_json_atomic(path, {"version": SETTINGS_VERSION, "stations": stations})
