"""Image decoding and THE preprocessing function.

Every path into a model goes through `preprocess`: training, evaluation, prediction and the camera.
Files are decoded by `decode_image` into the same BGR uint8 layout that OpenCV camera frames have, so a
photo on disk and the same picture grabbed from a camera give the identical tensor.
"""
from __future__ import annotations

import numbers
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from fanqc_gui.core.image_files import IMAGE_SUFFIXES, ImageError, is_image_file, read_image_file  # noqa: F401

# Larger images are refused before decoding: they would cost gigabytes. OpenCV enforces the same limit for
# every format (OPENCV_IO_MAX_IMAGE_PIXELS, set in fanqc_gui/__init__.py before cv2 loads).
MAX_PIXELS = 100_000_000
# The largest model input side: a tensor of 4096x4096x3 float32 is 200 MB per image; metadata asking for more
# (a damaged or hostile metadata.json) is refused before a single buffer of that size is allocated.
MAX_INPUT_SIDE = 4096

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "nearest_exact": cv2.INTER_NEAREST_EXACT,  # = PIL's NEAREST, as Keras' ImageDataGenerator resizes
    "bilinear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "bicubic": cv2.INTER_CUBIC,
}
# float32(1/255) applied by multiplication everywhere (numpy and tf.data), so results are bit-identical.
SCALE_1_255 = np.float32(1.0 / 255.0)


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of `preprocess`; stored in every model's metadata."""

    width: int = 80
    height: int = 80
    interpolation: str = "area"
    scale: str = "1/255"  # the only supported value: float32 in [0, 1]
    channels: str = "RGB"

    def __post_init__(self):
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; use one of {sorted(INTERPOLATIONS)}")
        for side in (self.width, self.height):
            if isinstance(side, bool) or not isinstance(side, numbers.Integral):
                raise ValueError(f"image width and height must be whole numbers, not {side!r}")
        if self.width < 8 or self.height < 8:
            raise ValueError(f"image size {self.width}x{self.height} is too small (minimum 8x8)")
        if self.width > MAX_INPUT_SIDE or self.height > MAX_INPUT_SIDE:
            raise ValueError(f"image size {self.width}x{self.height} is too large (at most {MAX_INPUT_SIDE} "
                             f"pixels a side)")
        if self.scale != "1/255" or self.channels != "RGB":
            raise ValueError(f"unsupported preprocessing: scale={self.scale!r}, channels={self.channels!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessSpec":
        known = {k: data[k] for k in ("width", "height", "interpolation", "scale", "channels") if k in data}
        return cls(**known)


def resize_rgb_uint8(bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """BGR uint8 (any size) -> RGB uint8 at the model's input size. The cached half of `preprocess`."""
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ImageError(f"expected a BGR uint8 image, got shape {bgr.shape} {bgr.dtype}")
    if bgr.shape[0] != spec.height or bgr.shape[1] != spec.width:
        bgr = cv2.resize(bgr, (spec.width, spec.height), interpolation=INTERPOLATIONS[spec.interpolation])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_model_input(rgb_uint8: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float32 in [0, 1]. Batches work too."""
    return rgb_uint8.astype(np.float32) * SCALE_1_255


def preprocess(bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """THE preprocessing: BGR uint8 (a decoded file or a camera frame) -> float32 HxWx3 RGB in [0, 1]."""
    return to_model_input(resize_rgb_uint8(bgr, spec))


def load_for_model(path: str | Path, spec: PreprocessSpec) -> np.ndarray:
    return preprocess(decode_image(path), spec)


def decode_image(path: str | Path) -> np.ndarray:
    """Decode a file into BGR uint8, whatever its depth or channels. Raises ImageError with the reason."""
    # Python I/O (works for non-ASCII paths, unlike cv2.imread on Windows); regular files of a sane size only.
    return decode_bytes(read_image_file(path))


def check_bytes(data: bytes) -> str:
    """Cheap checks before decoding; returns the format name or raises ImageError with the reason."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    kind = _sniff_format(data)
    if kind is None:
        raise ImageError("not an image (unrecognised file contents)")
    size = _header_size(data, kind)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(f"image too large ({size[0]}x{size[1]} pixels; limit {MAX_PIXELS // 1_000_000} MP)")
    if kind == "jpeg" and not _jpeg_complete(data):
        raise ImageError("truncated JPEG (file ends before the image data does)")
    return kind


def decode_bytes(data: bytes) -> np.ndarray:
    kind = check_bytes(data)
    buf = np.frombuffer(data, dtype=np.uint8)
    # COLOR|ANYDEPTH: grey, palette, RGBA and CMYK all come back as 3-channel BGR; 16-bit stays 16-bit and
    # keeps its high byte below. PNG is decoded straight to 8 bits: libpng keeps the same high byte, and a
    # 100 MP 16-bit PNG then costs 0.6 GB instead of 1.5 GB (OpenCV's 16-bit path holds two copies).
    # EXIF rotation is ignored, as PIL (the reference pipeline) and camera frames ignore it.
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION | (0 if kind == "png" else cv2.IMREAD_ANYDEPTH)
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" in str(exc):
            raise ImageError(f"image too large (over {MAX_PIXELS // 1_000_000} MP)") from None
        raise ImageError(f"cannot decode {kind.upper()} data (corrupt or unsupported variant)") from None
    if img is None:
        raise ImageError(f"cannot decode {kind.upper()} data (corrupt, truncated or unsupported variant)")
    return _to_bgr_uint8(img)


def _to_bgr_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:  # the high byte, a band of rows at a time: no second full-size 16-bit copy
        out = np.empty(img.shape, np.uint8)
        for top in range(0, img.shape[0], 512):
            np.right_shift(img[top:top + 512], 8, out=out[top:top + 512], casting="unsafe")
        img = out
    elif img.dtype != np.uint8:
        raise ImageError(f"unsupported pixel depth ({img.dtype}; use 8- or 16-bit images)")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] == 1:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ImageError("image has no pixels")
    return np.ascontiguousarray(img)


def _sniff_format(data: bytes) -> str | None:
    head = data[:16]
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _jpeg_complete(data: bytes) -> bool:
    # A complete JPEG ends with the EOI marker; some writers pad after it, so allow a little trailer.
    tail = data.rstrip(b"\x00\r\n ")
    return tail.endswith(b"\xff\xd9") or b"\xff\xd9" in data[-256:]


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the header without decoding, where cheap; None if unknown."""
    try:
        if kind == "png" and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        if kind == "jpeg":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    return None
                marker = data[i + 1]
                length = struct.unpack(">H", data[i + 2:i + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                    h, w = struct.unpack(">HH", data[i + 5:i + 9])
                    return w, h
                i += 2 + length
    except struct.error:
        return None
    return None


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the file header without decoding (PNG and JPEG); None when unknown."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(65536)
    except OSError:
        return None
    kind = _sniff_format(data)
    return _header_size(data, kind) if kind else None
