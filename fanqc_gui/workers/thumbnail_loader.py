"""Thumbnails decoded off the GUI thread into a bounded LRU cache.

Views ask for the thumbnails they are painting (`request`, one queue per view, replaced on every call so
requests for items scrolled away are dropped). Decoder threads read the file, check it with
core.imaging.check_bytes, decode JPEGs at reduced resolution, scale to THUMB_SIZE and build a QImage
(never a QPixmap: that is GUI-thread only). Finished work is handed over in batches; the cache is only
touched on the GUI thread.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from fanqc_gui.core.imaging import ImageError, check_bytes, image_size

THUMB_SIZE = 96
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Thumbnail:
    """A decoded thumbnail, or the reason the file cannot be shown."""

    mtime_ns: int
    image: QImage | None
    reason: str | None = None
    width: int = 0  # the full image's resolution, when known
    height: int = 0

    @property
    def nbytes(self) -> int:
        return self.image.sizeInBytes() + 200 if self.image is not None else 200


def make_thumbnail(path: str, size: int = THUMB_SIZE) -> tuple[QImage | None, str | None, int, int]:
    """(image, reason, width, height) for one file. Runs on a decoder thread."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None, "file not found", 0, 0
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror or exc}", 0, 0
    try:
        kind = check_bytes(data)
    except ImageError as exc:
        return None, str(exc), 0, 0
    flag = cv2.IMREAD_COLOR
    header = image_size(path) if kind == "jpeg" and len(data) > 32_768 else None
    if header:
        reduce = min(header) // size
        flag = (cv2.IMREAD_REDUCED_COLOR_8 if reduce >= 8 else cv2.IMREAD_REDUCED_COLOR_4 if reduce >= 4
                else cv2.IMREAD_REDUCED_COLOR_2 if reduce >= 2 else cv2.IMREAD_COLOR)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None:
        return None, f"cannot decode {kind.upper()} data (corrupt, truncated or unsupported variant)", 0, 0
    width, height = header or (img.shape[1], img.shape[0])
    scale = size / max(img.shape[:2])
    if scale < 1:
        img = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # owns its pixels
    return image, None, width, height


class _Queue:
    """Pending work per owner (latest request wins), shared with the decoder threads."""

    def __init__(self):
        self.cond = threading.Condition()
        self.pending: dict[str, deque[tuple[str, int]]] = {}
        self.busy: set[str] = set()  # queued or being decoded: never twice
        self.done: list[tuple[str, int, QImage | None, str | None, int, int]] = []
        self.stopping = False

    def take(self) -> tuple[str, int] | None:
        with self.cond:
            while not self.stopping:
                for owner in list(self.pending):
                    jobs = self.pending[owner]
                    if jobs:
                        job = jobs.popleft()
                        self.pending[owner] = self.pending.pop(owner)  # round-robin between owners
                        return job
                self.cond.wait()
            return None


class _DecodeThread(QThread):
    batch_ready = Signal()

    def __init__(self, queue: _Queue, size: int):
        super().__init__()
        self._queue = queue
        self._size = size

    def run(self) -> None:
        q = self._queue
        while (job := q.take()) is not None:
            path, mtime = job
            try:
                image, reason, w, h = make_thumbnail(path, self._size)
            except Exception as exc:  # a decoder thread must survive any one bad file
                image, reason, w, h = None, f"cannot decode: {exc}", 0, 0
            with q.cond:
                first = not q.done
                q.done.append((path, mtime, image, reason, w, h))
            if first:
                self.batch_ready.emit()


class ThumbnailLoader(QObject):
    """Thumbnails for many views, decoded by a few threads, cached in a bounded LRU."""

    thumbnails_ready = Signal(object)  # list of paths whose Thumbnail is now cached (object: names stay exact)

    def __init__(self, parent: QObject | None = None, size: int = THUMB_SIZE,
                 cache_bytes: int = DEFAULT_CACHE_BYTES, threads: int | None = None):
        super().__init__(parent)
        self.size = size
        self._cache: OrderedDict[str, Thumbnail] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._queue = _Queue()
        n = threads or max(1, min(4, (os.cpu_count() or 2)))
        self._threads = [_DecodeThread(self._queue, size) for _ in range(n)]
        for t in self._threads:
            t.batch_ready.connect(self._on_decoder_batch_ready)
            t.start(QThread.Priority.LowPriority)

    def lookup(self, path: str, mtime_ns: int) -> Thumbnail | None:
        """The cached thumbnail of this version of the file, or None (then `request` it)."""
        thumb = self._cache.get(path)
        if thumb is None or thumb.mtime_ns != mtime_ns:
            return None
        self._cache.move_to_end(path)
        return thumb

    def request(self, owner: str, items: list[tuple[str, int]]) -> None:
        """Replace owner's queue by these (path, mtime_ns); earlier requests not yet started are dropped."""
        q = self._queue
        with q.cond:
            old = q.pending.get(owner, ())
            q.busy.difference_update(p for p, _ in old)
            fresh = deque()
            for path, mtime in items:
                if path not in q.busy and self.lookup(path, mtime) is None:
                    q.busy.add(path)
                    fresh.append((path, mtime))
            q.pending[owner] = fresh
            if fresh:
                q.cond.notify(len(fresh))

    def pending_count(self) -> int:
        with self._queue.cond:
            return len(self._queue.busy)

    def rename(self, old: str, new: str) -> None:
        """A file moved: its cached thumbnail follows it (a move keeps the modification time)."""
        thumb = self._cache.pop(old, None)
        if thumb is not None:
            self._cache_bytes -= thumb.nbytes
            self._store(new, thumb)

    def shutdown(self) -> None:
        """Stop the decoder threads and wait for them (each finishes at most the file it is on)."""
        q = self._queue
        with q.cond:
            q.stopping = True
            q.pending.clear()
            q.cond.notify_all()
        for t in self._threads:
            t.wait()

    @property
    def cached_bytes(self) -> int:
        return self._cache_bytes

    @Slot()
    def _on_decoder_batch_ready(self) -> None:
        q = self._queue
        with q.cond:
            batch, q.done = q.done, []
            q.busy.difference_update(p for p, *_ in batch)
        for path, mtime, image, reason, w, h in batch:
            self._store(path, Thumbnail(mtime, image, reason, w, h))
        if batch:
            self.thumbnails_ready.emit([b[0] for b in batch])

    def _store(self, path: str, thumb: Thumbnail) -> None:
        old = self._cache.pop(path, None)
        if old is not None:
            self._cache_bytes -= old.nbytes
        self._cache[path] = thumb
        self._cache_bytes += thumb.nbytes
        while self._cache_bytes > self._cache_limit and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= evicted.nbytes
