"""The full-size image for the preview, decoded on a background thread (newest request wins)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from fanqc_gui.core.imaging import ImageError, decode_image
from fanqc_gui.workers.job_thread import LatestJobThread


@dataclass(frozen=True)
class LoadedImage:
    path: str
    image: QImage
    width: int
    height: int
    file_size: int


def load_image(path: str) -> LoadedImage:
    """Decode path (any depth/channels, via core.imaging) into an RGB QImage. Raises ImageError."""
    bgr = decode_image(path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return LoadedImage(path, image, w, h, size)


class ImageLoader(QObject):
    image_loaded = Signal(object)  # LoadedImage
    image_failed = Signal(object, str)  # path (str; object keeps a name that is not UTF-8), reason

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = LatestJobThread(load_image, "fanqc-image-loader")
        self._thread.result_ready.connect(self._on_thread_result_ready)
        self._thread.start()

    def load(self, path: str) -> None:
        self._thread.submit("preview", path)

    def shutdown(self) -> None:
        self._thread.stop()

    @Slot(object, object, object)
    def _on_thread_result_ready(self, _key, path, result) -> None:
        if isinstance(result, LoadedImage):
            self.image_loaded.emit(result)
        elif isinstance(result, ImageError):
            self.image_failed.emit(str(path), str(result))
        else:
            self.image_failed.emit(str(path), f"cannot show this image: {result}")
