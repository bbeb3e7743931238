"""The pretrained preset's input size: by rule from the images' own sizes, or as the user gives it.

Rule (from the header sizes of up to SAMPLE images, no decoding):
- the aspect ratio is the median height / width, so tall parts get a tall input (500x1250 -> 256x640);
- the short side is half the images' median short side, at least 224 (the scale the backbone learned
  ImageNet at) and at most 320, but not more than the images have (small images are not blown up beyond
  rounding to the next multiple of 32);
- both sides are multiples of 32 (the backbone halves the size five times), the long side at most 800.
Examples: 300x300 -> 224x224; 512x512 -> 256x256; 1024x1024 -> 320x320; 128x128 -> 128x128.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.imaging import ImageError, decode_image, image_size

STEP = 32
MIN_SIDE = 32
SHORT_MIN, SHORT_MAX = 224, 320
LONG_MAX = 800
MAX_SIDE = 1024  # an explicit size beyond this is refused (memory and time per image)
SAMPLE = 200
DECODE_SAMPLE = 20  # files whose header gives no size (BMP, TIFF, WebP) are decoded, at most this many


class InputSizeError(FanQCError, ValueError):
    """An input size the pretrained preset cannot take; the message says why and what it takes."""


def parse_input_size(text: str | int | None) -> tuple[int, int] | None:
    """'auto'/None -> None (by rule); 'N' or N -> (N, N); 'WxH' -> (W, H). Raises InputSizeError."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "auto")):
        return None
    if isinstance(text, int):
        w = h = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:[xX×*]\s*(\d+))?\s*", str(text))
        if not m:
            raise InputSizeError(f"image size {text!r} is not N or WxH (e.g. 224 or 256x640)")
        w = int(m.group(1))
        h = int(m.group(2)) if m.group(2) else w
    for side in (w, h):
        if side < MIN_SIDE or side > MAX_SIDE or side % STEP:
            raise InputSizeError(f"image size {w}x{h} cannot be taken by the pretrained preset: each side must be "
                                 f"a multiple of {STEP} between {MIN_SIDE} and {MAX_SIDE} (e.g. 224 or 256x640)")
    return w, h


def _round(value: float) -> int:
    return max(MIN_SIDE, round(value / STEP) * STEP)


def size_by_rule(sizes: Iterable[tuple[int, int]]) -> tuple[int, int, str]:
    """(width, height, why in words) for images of these (width, height) sizes."""
    sizes = [(int(w), int(h)) for w, h in sizes if w and h]
    if not sizes:
        return 224, 224, "224x224: the image sizes could not be read from the files"
    w = np.array([s[0] for s in sizes], np.float64)
    h = np.array([s[1] for s in sizes], np.float64)
    aspect = float(np.median(h / w))  # > 1: tall
    native_short = float(np.median(np.minimum(w, h)))
    short = min(max(native_short / 2.0, SHORT_MIN), SHORT_MAX, native_short)
    short_px = _round(short)
    ratio = max(aspect, 1.0 / aspect)
    long_px = min(_round(short_px * ratio), LONG_MAX)
    width, height = (short_px, long_px) if aspect >= 1.0 else (long_px, short_px)
    return width, height, (f"{width}x{height}: the images are typically {int(np.median(w))}x{int(np.median(h))} "
                           f"px (from {len(sizes)} files); the input keeps their aspect ratio")


def sample_sizes(paths: Iterable[Path], seed: int = 0) -> list[tuple[int, int]]:
    """Header sizes of up to SAMPLE of the files (a seeded random pick), unreadable ones left out."""
    paths = sorted(paths, key=str)
    if len(paths) > SAMPLE:
        rng = np.random.default_rng(seed)
        paths = [paths[i] for i in sorted(rng.choice(len(paths), SAMPLE, replace=False))]
    sizes, decoded = [], 0
    for path in paths:
        size = image_size(path)
        if size is None and decoded < DECODE_SAMPLE:
            decoded += 1
            try:
                h, w = decode_image(path).shape[:2]
                size = (w, h)
            except ImageError:
                continue
        if size:
            sizes.append(size)
    return sizes
