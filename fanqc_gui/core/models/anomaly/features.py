"""Patch features of many images through LiteRT: the feature network (network.py) converted once to TFLite
(float16 constants, exactly as in the saved model, so the trainer's features are the station's) and kept in
the workspace cache (keyed by the backbone's weights, the taps and the input): a retrain skips the
conversion. Decoding (OpenCV, no GIL) overlaps inference.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fanqc_gui.core.atomic_io import write_bytes_atomic
from fanqc_gui.core.dataset.scan import Problem
from fanqc_gui.core.imaging import ImageError, PreprocessSpec, decode_image, resize_rgb_uint8, to_model_input
from fanqc_gui.core.models.anomaly.network import LOCAL_POOL, TAP_BLOCKS, grid_size, tap_channels

FORMAT_VERSION = 2  # 2: float16 constants, as in the saved model
IMAGES_PER_CALL = 8
FLOAT32_BUDGET_BYTES = 768_000_000  # features beyond this are kept as float16 (a 5e-4 rounding, far below
# the covariance's regularisation)


class ExtractionStopped(Exception):
    """should_stop() answered True between two batches."""


def feature_model_key(spec: PreprocessSpec) -> str:
    from fanqc_gui.core.models.backbone.weights import SHA256

    desc = {"backbone": "efficientnet_lite0", "weights": SHA256[:16], "taps": list(TAP_BLOCKS), "pool": LOCAL_POOL,
            "spec": spec.to_dict(), "format": FORMAT_VERSION}
    return hashlib.blake2b(json.dumps(desc, sort_keys=True).encode(), digest_size=8).hexdigest()


def feature_tflite(spec: PreprocessSpec, cache_dir: Path | None) -> bytes:
    """The feature network's TFLite for this input: from the workspace's cache or the user's (a damaged copy
    is made again), else converted now (seconds) and kept in both."""
    from fanqc_gui.core.models import conversion_cache

    name = f"anomaly-features-{feature_model_key(spec)}"
    path = Path(cache_dir) / f"{name}.tflite" if cache_dir else None
    if path is not None and path.is_file():
        try:
            data = path.read_bytes()
            if conversion_cache.opens(data):
                return data
        except OSError:
            pass
    data = conversion_cache.load_conversion(name)
    if data is None:
        from fanqc_gui.core.models.anomaly.model import to_tflite
        from fanqc_gui.core.models.anomaly.network import build_feature_model

        data = to_tflite(build_feature_model(spec.height, spec.width))
        conversion_cache.keep_conversion(name, data)
    if path is not None:
        try:
            write_bytes_atomic(path, data)
        except OSError:
            pass  # a read-only workspace only costs the conversion next time
    return data


def load_pixels(path: Path, spec: PreprocessSpec) -> np.ndarray | str:
    """RGB uint8 at the model's size, or why the file cannot be used."""
    try:
        return resize_rgb_uint8(decode_image(path), spec)
    except ImageError as exc:
        return str(exc)


def extract(paths: Sequence[Path], spec: PreprocessSpec, tflite: bytes, channels: list[int],
            progress: Callable[[int, int], None] | None = None, should_stop: Callable[[], bool] | None = None
            ) -> tuple[np.ndarray, list[Path], list[Problem]]:
    """(features (n, P, d) of the images that decode, their paths, the problems). Raises ExtractionStopped."""
    from fanqc_gui.core.models.backends import LiteRTBackend

    backend = LiteRTBackend(None, content=tflite)
    cols, rows = grid_size(spec.width, spec.height)
    total_channels = tap_channels()
    select = None if len(channels) == total_channels else np.asarray(channels)
    dtype = np.float32 if len(paths) * rows * cols * len(channels) * 4 <= FLOAT32_BUDGET_BYTES else np.float16
    out = np.empty((len(paths), rows * cols, len(channels)), dtype)
    kept: list[Path] = []
    problems: list[Problem] = []
    chunks = [list(paths[i:i + IMAGES_PER_CALL]) for i in range(0, len(paths), IMAGES_PER_CALL)]
    done = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.map(lambda p: load_pixels(p, spec), chunks[0]) if chunks else None
        for i, chunk in enumerate(chunks):
            pixels = list(pending)
            if i + 1 < len(chunks):
                pending = pool.map(lambda p: load_pixels(p, spec), chunks[i + 1])
            good = [(p, px) for p, px in zip(chunk, pixels) if not isinstance(px, str)]
            problems += [Problem(p, px) for p, px in zip(chunk, pixels) if isinstance(px, str)]
            if good:
                feats = backend(to_model_input(np.stack([px for _, px in good])))
                feats = feats.reshape(len(good), rows * cols, total_channels)
                if select is not None:
                    feats = feats[..., select]
                out[len(kept):len(kept) + len(good)] = feats
                kept += [p for p, _ in good]
            done += len(chunk)
            if progress:
                progress(done, len(paths))
            if should_stop and should_stop() and i + 1 < len(chunks):
                raise ExtractionStopped()
    return out[:len(kept)], kept, problems
