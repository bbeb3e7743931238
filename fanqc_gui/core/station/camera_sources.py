"""Frame sources for the camera station: a camera index, a video file, a network stream, an image folder.

Cameras and streams are *live* (frames come whether or not anyone is ready; when inference is slow the
newest frame wins). Video files and image folders are *recorded* (every frame can be judged in order, so a
recording can be re-judged exactly). Sources hand out BGR uint8 frames, the layout `imaging.preprocess`
takes. Opening a source that is not there raises SourceError with a message an operator can act on.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# OpenCV and FFmpeg print warnings for every failed open; the station reports failures itself.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.image_files import list_image_files
from fanqc_gui.core.imaging import ImageError, decode_image, is_image_file  # noqa: E402
from fanqc_gui.core.station.secret_redaction import redact_text, redact_url  # noqa: E402

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

KINDS = ("camera", "file", "stream", "folder")
MAX_CAMERA_INDEX = 9999
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
STREAM_TIMEOUT_MS = 5000
FOLDER_FPS = 10.0  # pace of an image folder in real-time playback when no interval is given


class SourceError(FanQCError, RuntimeError):
    """A source cannot be opened or parsed; the message says what to check."""


@dataclass(frozen=True)
class SourceSpec:
    kind: str            # one of KINDS
    target: str          # camera index as text, a path or a URL

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SourceError(f"unknown source kind {self.kind!r}; use one of {', '.join(KINDS)}")

    @property
    def live(self) -> bool:
        return self.kind in ("camera", "stream")

    def describe(self) -> str:
        if self.kind == "camera":
            return f"camera {self.target}"
        if self.kind == "stream":
            return redact_url(self.target)
        return str(self.target)

    @classmethod
    def parse(cls, text: str, kind: str | None = None) -> "SourceSpec":
        """A camera number, a video file, an image folder or an rtsp:// / http:// URL (kind guessed)."""
        text = (text or "").strip()
        if not text:
            raise SourceError("no source given: use a camera number, a video file, an image folder or a URL")
        if kind:
            if kind == "camera" and not text.isdigit():
                raise SourceError(f"camera '{text}' must be a number (0 is the first camera)")
            return cls(kind, text)
        if text.isdigit():
            if int(text) > MAX_CAMERA_INDEX:  # OpenCV takes a C int: 2**31 overflowed into a traceback
                raise SourceError(f"camera number {text} is too large; cameras are numbered 0, 1, 2...")
            return cls("camera", text)
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
        if scheme:
            name = scheme.group(1).lower()
            if name == "file":
                return cls.parse(text[len("file://"):])
            if name not in STREAM_SCHEMES:
                raise SourceError(f"unsupported stream address '{redact_url(text)}' "
                                  f"(use {', '.join(s + '://' for s in STREAM_SCHEMES[:4])}...)")
            return cls("stream", text)
        path = Path(text).expanduser()
        if path.is_dir():
            return cls("folder", str(path))
        if path.is_file():
            if is_image_file(path):
                raise SourceError(f"{path} is a single image; give its folder to play the images as a sequence")
            return cls("file", str(path))
        raise SourceError(f"source not found: {redact_text(text)} (give a camera number, a video file, an image folder "
                          f"or an rtsp:// or http:// address)")




@dataclass(frozen=True)
class Frame:
    image: np.ndarray   # BGR uint8, H x W x 3
    index: int          # position in the source: frame number of a file, image number of a folder
    source_time: float  # seconds: position in a recording, or time.monotonic() of a live grab
    grabbed_at: float   # time.monotonic() when it was read
    name: str = ""      # the image file name, for folders


def as_bgr_uint8(img: np.ndarray) -> np.ndarray:
    """Camera drivers can deliver grey, BGRA or 16-bit frames; the model takes BGR uint8."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise SourceError(f"unsupported frame format {img.dtype}")
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


CaptureFactory = Callable[..., "cv2.VideoCapture"]


class FrameSource:
    """Base: open() raises SourceError; read() gives a Frame, or None when it ended (or was lost)."""

    spec: SourceSpec
    nominal_fps: float | None = None
    frame_count: int | None = None

    @property
    def live(self) -> bool:
        return self.spec.live

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class VideoCaptureSource(FrameSource):
    """A camera, video file or stream read through OpenCV's VideoCapture."""

    def __init__(self, spec: SourceSpec, capture_factory: CaptureFactory | None = None):
        self.spec = spec
        self._factory = capture_factory or cv2.VideoCapture
        self._cap = None
        self._index = 0

    def open(self) -> None:
        spec = self.spec
        if spec.kind == "file" and not Path(spec.target).is_file():
            raise SourceError(f"video file not found: {spec.target}")
        if spec.kind == "camera":
            cap = self._factory(int(spec.target), cv2.CAP_ANY)
        elif spec.kind == "stream":
            cap = self._factory(spec.target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                                               cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        else:
            cap = self._factory(spec.target, cv2.CAP_ANY)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(self._open_failure())
        self._cap = cap
        self._index = 0
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.nominal_fps = fps if 0.5 < fps < 1000 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if spec.kind == "file" and count > 0 else None

    def _open_failure(self) -> str:
        spec = self.spec
        if spec.kind == "camera":
            return (f"no camera at index {spec.target}: check that it is connected and not in use by another "
                    f"program")
        if spec.kind == "stream":
            return f"cannot connect to stream {redact_url(spec.target)}: check the address, network and camera"
        return f"cannot open video file {spec.target}: not a video, or a codec OpenCV cannot read"

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        try:
            ok, img = self._cap.read()
        except cv2.error:
            ok, img = False, None
        if not ok or img is None or img.size == 0:
            return None
        now = time.monotonic()
        index = self._index
        self._index += 1
        if self.live:
            source_time = now
        else:
            source_time = index / (self.nominal_fps or 30.0)
        return Frame(as_bgr_uint8(img), index, source_time, now)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource(FrameSource):
    """The images of a folder, in name order, as a recorded sequence. Unreadable files are skipped."""

    def __init__(self, spec: SourceSpec, fps: float = FOLDER_FPS):
        self.spec = spec
        self.nominal_fps = fps
        self._paths: list[Path] = []
        self._next = 0
        self.skipped: list[tuple[str, str]] = []

    def open(self) -> None:
        folder = Path(self.spec.target)
        if not folder.is_dir():
            raise SourceError(f"image folder not found: {folder}")
        # Entries named like images that cannot be judged (links to nothing or in a loop, folders, pipes,
        # hidden files) are named with their reason, as every other command names them.
        self._paths, left_out = list_image_files(folder)
        self.skipped = [(s.path.name, s.reason) for s in left_out][:100]
        if not self._paths:
            raise SourceError(f"no images in folder {folder}")
        self._next = 0
        self.frame_count = len(self._paths)

    def read(self) -> Frame | None:
        while self._next < len(self._paths):
            index = self._next
            path = self._paths[index]
            self._next += 1
            try:
                img = decode_image(path)
            except ImageError as exc:
                if len(self.skipped) < 100:
                    self.skipped.append((path.name, str(exc)))
                continue
            return Frame(img, index, index / self.nominal_fps, time.monotonic(), path.name)
        return None


def open_source(spec: SourceSpec, capture_factory: CaptureFactory | None = None, *,
                folder_interval_s: float | None = None) -> FrameSource:
    """A source object for spec (not opened yet: call .open()). folder_interval_s: the seconds between two
    images of a folder on its own clock (what paced and real-time playback follow); default 1 / FOLDER_FPS."""
    if spec.kind == "folder":
        fps = 1.0 / folder_interval_s if folder_interval_s and folder_interval_s > 0 else FOLDER_FPS
        return ImageFolderSource(spec, fps)
    return VideoCaptureSource(spec, capture_factory)
