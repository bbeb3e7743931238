"""FanQC: visual GO/NG inspection with a CNN the shop floor trains itself."""
import os as _os

__version__ = "0.1.0"

# OpenCV reads its decode limit once, when its library loads, and then checks every codec's header against
# it before allocating: a 20000x20000 TIFF or 16000x16000 WebP of a few KB is refused instead of costing
# gigabytes. Set here, before any module of the package can import cv2 (core.imaging.MAX_PIXELS).
if int(_os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", "0") or 0) not in range(1, 100_000_001):
    _os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = "100000000"
