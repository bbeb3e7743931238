"""Scanning a workspace: which images exist, which cannot be used (and why), duplicates, and the split.

Scanning reads each file once (to hash it and run the cheap format checks); full decoding happens once, in
the decode cache: training hands it each file's bytes while they are in memory (`on_content`). Exact
duplicates (same bytes) are trained on once, so they can never sit in both the training and the validation
split.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fanqc_gui.core.dataset.workspace import CLASS_NAMES, GO, NG, ClassMapping, Workspace
from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.image_files import list_image_files, read_image_file
from fanqc_gui.core.imaging import ImageError, check_bytes, decode_bytes

MIN_IMAGES_PER_CLASS = 4
ProgressFn = Callable[[int, int], None]
ContentFn = Callable[[Path, str, bytes], None]  # (path, digest, file bytes), on a scanning thread


class DatasetError(FanQCError, ValueError):
    """The data cannot be trained or evaluated on; the message says what to fix."""


@dataclass(frozen=True)
class ImageRecord:
    path: Path
    label: int  # GO = 0, NG = 1
    digest: str  # blake2b of the file's bytes: duplicate detection and the decode-cache key
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str


@dataclass
class ScanReport:
    root: Path
    mapping: ClassMapping
    images: list[ImageRecord] = field(default_factory=list)  # usable, labelled, one per unique content
    duplicates: list[list[Path]] = field(default_factory=list)  # groups of byte-identical files
    problems: list[Problem] = field(default_factory=list)
    inbox_count: int = 0

    def count(self, label: int) -> int:
        return sum(1 for r in self.images if r.label == label)

    @property
    def counts(self) -> dict[str, int]:
        return {"GO": self.count(GO), "NG": self.count(NG), "inbox": self.inbox_count}

    def fingerprint(self) -> str:
        """Identifies the training content (not file names): stored with each model."""
        h = hashlib.blake2b(digest_size=12)
        for rec in sorted(self.images, key=lambda r: r.digest):
            h.update(f"{rec.digest}:{rec.label};".encode())
        return h.hexdigest()

    def require_trainable(self) -> None:
        for label, name in enumerate(CLASS_NAMES):
            n = self.count(label)
            if n < MIN_IMAGES_PER_CLASS:
                folder = self.root / self.mapping.folder_of(label)
                raise DatasetError(
                    f"class {name} has {n} usable image(s) in {folder}; at least {MIN_IMAGES_PER_CLASS} "
                    f"are needed per class")

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "counts": self.counts,
            "class_mapping": self.mapping.to_dict(),
            "problems": [{"path": str(p.path), "reason": p.reason} for p in self.problems],
            "duplicates": [[str(p) for p in group] for group in self.duplicates],
        }


def list_images(folder: Path) -> list[Path]:
    """Usable image files directly in folder (by extension, any case), sorted by name; see image_files.py for
    what is skipped (loops, dangling links, folders, pipes, hidden files)."""
    return list_image_files(folder)[0]


def scan_folders(root: Path, mapping: ClassMapping, progress: ProgressFn | None = None,
                 inbox_folder: str | None = None, on_content: ContentFn | None = None,
                 decode: bool = False) -> ScanReport:
    """Scan class folders under root (a workspace or any GO/NG dataset such as a test set). on_content gets
    each usable file's bytes on the scanning thread, so that a caller can decode them without reading the
    file a second time. decode: also decode every file (`fanqc scan`), so a corrupt one is reported here and
    not only when training skips it."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"folder not found: {root}")
    missing = [f for f in (mapping.go_folder, mapping.ng_folder) if not (root / f).is_dir()]
    if len(missing) == 2:
        raise DatasetError(f"{root} has no class folders '{mapping.go_folder}/' and '{mapping.ng_folder}/'")
    report = ScanReport(root=root, mapping=mapping)
    if inbox_folder:
        report.inbox_count = len(list_images(root / inbox_folder))
    jobs = []
    for label in (GO, NG):
        found, skipped = list_image_files(root / mapping.folder_of(label), inside=root)
        jobs += [(p, label) for p in found]
        report.problems += [Problem(s.path, s.reason) for s in skipped]
    done = 0

    def examine(job):
        return job, _examine(job[0], on_content, decode)

    by_digest: dict[str, list[tuple[Path, int, os.stat_result]]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for (path, label), result in pool.map(examine, jobs):
            done += 1
            if progress and (done % 200 == 0 or done == len(jobs)):
                progress(done, len(jobs))
            if isinstance(result, str):
                report.problems.append(Problem(path, result))
                continue
            digest, st = result
            by_digest.setdefault(digest, []).append((path, label, st))
    for digest, copies in by_digest.items():
        if len(copies) > 1:
            report.duplicates.append([c[0] for c in copies])
        labels = {c[1] for c in copies}
        if len(labels) > 1:
            for path, _, _ in copies:
                report.problems.append(Problem(path, "the same image is filed as both GO and NG; skipped"))
            continue
        path, label, st = copies[0]
        report.images.append(ImageRecord(path, label, digest, st.st_size, st.st_mtime_ns))
    report.images.sort(key=lambda r: (r.label, str(r.path)))
    report.problems.sort(key=lambda p: str(p.path))
    return report


def scan_workspace(ws: Workspace, progress: ProgressFn | None = None,
                   on_content: ContentFn | None = None, decode: bool = False) -> ScanReport:
    return scan_folders(ws.root, ws.mapping, progress, inbox_folder=ws.inbox_folder, on_content=on_content,
                        decode=decode)


def _examine(path: Path, on_content: ContentFn | None = None,
             decode: bool = False) -> tuple[str, os.stat_result] | str:
    """(digest, stat) for a usable file, or the reason it cannot be used."""
    try:
        st = path.stat()
        data = read_image_file(path)
        if decode:
            decode_bytes(data)
        else:
            check_bytes(data)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    except ImageError as exc:
        return str(exc)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if on_content is not None:
        on_content(path, digest, data)
    return digest, st


@dataclass(frozen=True)
class Split:
    train: list[ImageRecord]
    val: list[ImageRecord]


def split_stratified(images: list[ImageRecord], val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Per-class random split, reproducible for a seed and independent of file order and names."""
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"validation split must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train: list[ImageRecord] = []
    val: list[ImageRecord] = []
    for label in (GO, NG):
        members = sorted((r for r in images if r.label == label), key=lambda r: r.digest)
        order = rng.permutation(len(members))
        n_val = int(round(len(members) * val_fraction))
        if val_fraction > 0 and len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    return Split(train=train, val=val)
