"""TFLite conversions of the pretrained networks, kept for every workspace of this user.

A network with the ImageNet weights converts to the same TFLite in any workspace with the same input size,
and converting takes seconds (EfficientNet-Lite0 at 224 px: 3.6 s of a 27 s casting run on 2 cores). The
workspace's own cache (.fanqc/cache) keeps it for that workspace; this one, in the user's cache folder, spares
the first run in every other workspace. The name carries the network's key (weights, taps, input) and the
TensorFlow version that converted it. A file LiteRT cannot open is removed and converted again; nothing here
is needed: a folder that cannot be written only costs the conversion next time.
"""
from __future__ import annotations

from pathlib import Path

from fanqc_gui.core.atomic_io import write_bytes_atomic
from fanqc_gui.core.paths import user_cache_dir

FOLDER = "conversions"


def conversion_file(name: str) -> Path:
    from fanqc_gui.core.tf_runtime import import_tf

    version = import_tf().__version__  # conversions happen only where TensorFlow is: it is loaded
    return user_cache_dir() / FOLDER / f"{name}-tf{version}.tflite"


def opens(data: bytes) -> bool:
    """LiteRT reads it as a model (a truncated or overwritten file does not)."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        Interpreter(model_content=data)
        return True
    except Exception:  # noqa: BLE001 - LiteRT raises ValueError or RuntimeError for damaged models
        return False


def load_conversion(name: str) -> bytes | None:
    file = conversion_file(name)
    try:
        data = file.read_bytes()
    except OSError:
        return None
    if opens(data):
        return data
    try:
        file.unlink()
    except OSError:
        pass
    return None


def keep_conversion(name: str, data: bytes) -> None:
    try:
        write_bytes_atomic(conversion_file(name), data)
    except OSError:
        pass
