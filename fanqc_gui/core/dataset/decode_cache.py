"""Decoded-image cache: every image is decoded and resized once, then kept as uint8 at the model's size.

Keyed by the file's content digest (so a file moved from inbox to NG keeps its entry) and by the
preprocessing spec. On disk it is one .npz per spec under the workspace's `.fanqc/cache/`; a retrain after
adding ten images decodes ten images. Files that fail to decode are reported, not cached.

Training passes `take` to the workspace scan, so each new file is decoded from the bytes the scan has just
read (one read per file, and the decoding overlaps the scan).
"""
from __future__ import annotations

import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fanqc_gui.core.atomic_io import write_bytes_atomic
from fanqc_gui.core.dataset.scan import ImageRecord, Problem
from fanqc_gui.core.imaging import ImageError, PreprocessSpec, decode_bytes, decode_image, resize_rgb_uint8

CACHE_DIR = Path(".fanqc") / "cache"


def _pixels(spec: PreprocessSpec, path: Path, data: bytes | None = None) -> np.ndarray:
    """The cached half of the preprocessing, from the file's bytes when the caller has them already."""
    return resize_rgb_uint8(decode_bytes(data) if data is not None else decode_image(path), spec)


def _spec_key(spec: PreprocessSpec) -> str:
    return hashlib.blake2b(json.dumps(spec.to_dict(), sort_keys=True).encode(), digest_size=6).hexdigest()


class DecodeCache:
    def __init__(self, spec: PreprocessSpec, folder: Path | None = None):
        self.spec = spec
        self.file = (Path(folder) / f"decoded-{_spec_key(spec)}.npz") if folder else None
        self._entries: dict[str, np.ndarray] = {}
        self._failed: dict[str, str] = {}  # digest -> why `take` could not decode it (this run only)
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if not self.file or not self.file.is_file():
            return
        try:
            with np.load(self.file) as npz:
                keys, pixels = npz["keys"], npz["pixels"]
            if pixels.shape[1:] != (self.spec.height, self.spec.width, 3):
                return
            self._entries = {str(k): pixels[i] for i, k in enumerate(keys)}
        except Exception:  # noqa: BLE001 - truncated zip (BadZipFile, EOFError), wrong shapes...: re-decode
            self._entries = {}  # a damaged cache only costs a re-decode

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, path: Path, digest: str, data: bytes) -> None:
        """Decode a file's bytes unless already cached. Safe to call from several threads at once."""
        if digest in self._entries or digest in self._failed:
            return
        try:
            self._entries[digest] = _pixels(self.spec, path, data)
            self._dirty = True
        except ImageError as exc:
            self._failed[digest] = str(exc)

    def load(self, records: Sequence[ImageRecord], progress: Callable[[int, int], None] | None = None,
             workers: int = 2) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
        """(pixels uint8 NxHxWx3 RGB, labels float32, problems) for the records that decode."""
        problems = [Problem(r.path, self._failed[r.digest]) for r in records if r.digest in self._failed]
        missing = [r for r in records if r.digest not in self._entries and r.digest not in self._failed]
        done = 0

        def decode(rec: ImageRecord):
            try:
                return rec, _pixels(self.spec, rec.path)
            except ImageError as exc:
                return rec, str(exc)

        if missing:
            with ThreadPoolExecutor(max_workers=workers) as pool:  # cv2 releases the GIL while decoding
                for rec, result in pool.map(decode, missing):
                    done += 1
                    if progress and (done % 100 == 0 or done == len(missing)):
                        progress(done, len(missing))
                    if isinstance(result, str):
                        problems.append(Problem(rec.path, result))
                    else:
                        self._entries[rec.digest] = result
                        self._dirty = True
        kept = [r for r in records if r.digest in self._entries]
        shape = (len(kept), self.spec.height, self.spec.width, 3)
        pixels = np.empty(shape, np.uint8)
        for i, rec in enumerate(kept):
            pixels[i] = self._entries[rec.digest]
        labels = np.array([r.label for r in kept], np.float32)
        return pixels, labels, problems

    def save(self) -> None:
        """Write the cache if it changed. Failure (disk full, read-only) is harmless: return quietly."""
        if not self.file or not self._dirty:
            return
        keys = np.array(list(self._entries.keys()))
        pixels = np.stack(list(self._entries.values())) if self._entries else np.zeros(
            (0, self.spec.height, self.spec.width, 3), np.uint8)
        buf = io.BytesIO()
        np.savez(buf, keys=keys, pixels=pixels)
        try:
            write_bytes_atomic(self.file, buf.getvalue())
            self._dirty = False
        except OSError:
            pass
