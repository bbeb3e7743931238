"""Versions of FanQC's parts, read from package metadata: nothing heavy (TensorFlow above all) is imported."""
from __future__ import annotations

import platform
from importlib import metadata

from fanqc_gui import __version__

# Distribution names to try for each component, first found wins.
_DISTRIBUTIONS = {
    "OpenCV": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless"),
    "LiteRT": ("ai-edge-litert",),
    "TensorFlow": ("tensorflow-cpu", "tensorflow", "tensorflow-intel"),
    "Keras": ("keras",),
    "NumPy": ("numpy",),
    "pyqtgraph": ("pyqtgraph",),
}


def distribution_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def component_versions() -> dict[str, str | None]:
    """{"FanQC": "0.3.0", "Python": "3.11.7", "OpenCV": ..., "TensorFlow": None when not installed, ...}"""
    found = {"FanQC": __version__, "Python": platform.python_version()}
    found.update({label: distribution_version(*names) for label, names in _DISTRIBUTIONS.items()})
    if found["OpenCV"] is None:  # frozen builds may carry no metadata: ask the module (cheap to import)
        try:
            import cv2

            found["OpenCV"] = cv2.__version__
        except ImportError:
            pass
    return found
