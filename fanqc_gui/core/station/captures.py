"""Saving station images: NG (and a share of GO) crops to captures/, snapshots, and sending to the inbox.

Saving is rate-limited by a token bucket on the frame's own clock (the position in a recording, the grab
time of a live frame), so re-judging a recording saves the same frames however fast it runs. A disk-space
guard stops saving, never inspecting, when the disk is nearly full. Every file is written atomically.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from fanqc_gui.core.atomic_io import write_bytes_atomic
from fanqc_gui.core.dataset.file_moves import MoveError, copy_file, unique_destination
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.station.station_settings import CaptureRules

DISK_CHECK_EVERY_S = 2.0
BURST = 5


def encode_image(image: np.ndarray, image_format: str) -> bytes:
    if image_format == "png":
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise OSError(f"cannot encode the image as {image_format.upper()}")
    return buf.tobytes()


def stamp(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time).strftime("%Y%m%d-%H%M%S-%f")


def image_name(wall_time: float, verdict: str, p_ng: float, frame_index: int | None, ext: str) -> str:
    frame = f"_f{frame_index:06d}" if frame_index is not None else ""
    return f"{stamp(wall_time)}_{verdict}_p{p_ng:.3f}{frame}.{ext}"


@dataclass
class CaptureStats:
    saved: int = 0
    skipped_rate: int = 0
    skipped_disk: int = 0
    failed: int = 0
    last_error: str = ""


class CaptureSaver:
    """Decides which judged crops to keep and writes them under captures/YYYY-MM-DD/."""

    def __init__(self, workspace: Workspace, rules: CaptureRules, clock=time.monotonic):
        self.workspace = workspace
        self.rules = rules
        self.stats = CaptureStats()
        self._clock = clock
        self._tokens = float(BURST)
        self._last_t: float | None = None
        self._go_share = 0.0
        self._disk_ok = True
        self._disk_checked = -1e9

    def set_rules(self, rules: CaptureRules) -> None:
        self.rules = rules

    def wants(self, verdict: str) -> bool:
        """Whether the rules ask for this verdict (GO frames: every 1/fraction-th one, evenly spread)."""
        if verdict == "NG":
            return self.rules.save_ng
        if self.rules.go_fraction <= 0:
            return False
        self._go_share += self.rules.go_fraction
        if self._go_share >= 1.0:
            self._go_share -= 1.0
            return True
        return False

    def _take_token(self, t: float) -> bool:
        rate = self.rules.max_per_minute / 60.0
        if self._last_t is not None and t > self._last_t:
            self._tokens = min(float(BURST), self._tokens + (t - self._last_t) * rate)
        elif self._last_t is not None and t < self._last_t - 1.0:  # a recording restarted: fresh bucket
            self._tokens = float(BURST)
        self._last_t = t
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def disk_ok(self) -> bool:
        now = self._clock()
        if now - self._disk_checked >= DISK_CHECK_EVERY_S:
            self._disk_checked = now
            folder = self.workspace.captures_dir
            probe = folder if folder.exists() else self.workspace.root
            try:
                free_mb = shutil.disk_usage(probe).free / 1e6
            except OSError:
                free_mb = 0.0
            self._disk_ok = free_mb >= self.rules.min_free_mb
        return self._disk_ok

    def maybe_save(self, crop: np.ndarray, verdict: str, p_ng: float, frame_time: float,
                   frame_index: int | None, wall_time: float, anomaly_map: np.ndarray | None = None,
                   threshold: float = 0.5) -> Path | None:
        """Save the crop if the rules, the rate limit and the disk allow; returns the path or None. With an
        anomaly model's map, an NG crop gets the map drawn over it beside it (map_path_for)."""
        if not self.wants(verdict):
            return None
        if self.rules.max_per_minute <= 0 or not self._take_token(frame_time):
            self.stats.skipped_rate += 1
            return None
        if not self.disk_ok():
            self.stats.skipped_disk += 1
            self.stats.last_error = f"disk nearly full (< {self.rules.min_free_mb} MB free): not saving images"
            return None
        day = datetime.fromtimestamp(wall_time).strftime("%Y-%m-%d")
        ext = self.rules.image_format
        path = self.workspace.captures_dir / day / image_name(wall_time, verdict, p_ng, frame_index, ext)
        try:
            write_bytes_atomic(path, encode_image(crop, ext))
        except OSError as exc:
            self.stats.failed += 1
            self.stats.last_error = f"cannot save capture: {exc.strerror or exc}"
            self._disk_checked = -1e9  # look at the disk again next time
            return None
        self.stats.saved += 1
        if anomaly_map is not None and verdict == "NG":
            try:
                write_bytes_atomic(map_path_for(path), encode_image(_drawn_map(crop, anomaly_map, threshold), "png"))
            except (OSError, ValueError) as exc:  # the capture itself is kept
                why = getattr(exc, "strerror", None) or exc
                self.stats.last_error = f"cannot save the anomaly map of {path.name}: {why}"
        return path


def map_path_for(capture: str | Path) -> Path:
    """Where the anomaly map of a saved capture lies: beside it, `<name>.map.png`."""
    capture = Path(capture)
    return capture.with_name(f"{capture.stem}.map.png")


def _drawn_map(crop: np.ndarray, anomaly_map: np.ndarray, threshold: float) -> np.ndarray:
    from fanqc_gui.core.models.anomaly.heat_map import overlay

    bgr = crop if crop.ndim == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    return overlay(np.ascontiguousarray(bgr), anomaly_map, threshold)


def relative_to_workspace(workspace: Workspace, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(workspace.root).as_posix()
    except ValueError:
        return str(path)


def send_image_to_inbox(workspace: Workspace, image: np.ndarray, label: str = "station") -> Path:
    """Write an image (BGR uint8) into the inbox as a lossless PNG with a unique name."""
    workspace.inbox_dir.mkdir(parents=True, exist_ok=True)
    dest = unique_destination(workspace.inbox_dir, f"{label}_{stamp(time.time())}.png")
    write_bytes_atomic(dest, encode_image(image, "png"))
    return dest


def send_files_to_inbox(workspace: Workspace, paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Copy saved captures (absolute or workspace-relative paths) into the inbox; the captures stay.
    Returns (new inbox paths, problems)."""
    workspace.inbox_dir.mkdir(parents=True, exist_ok=True)
    sent, problems = [], []
    for p in paths:
        src = Path(p)
        if not src.is_absolute():
            src = workspace.root / src
        try:
            sent.append(copy_file(src, workspace.inbox_dir))
        except (MoveError, OSError) as exc:
            problems.append(f"{src.name}: {exc}")
    return sent, problems


def save_snapshot(workspace: Workspace, image: np.ndarray) -> Path:
    """The whole frame as a PNG in captures/snapshots/."""
    dest = unique_destination(workspace.captures_dir / "snapshots", f"snapshot_{stamp(time.time())}.png")
    write_bytes_atomic(dest, encode_image(image, "png"))
    return dest
