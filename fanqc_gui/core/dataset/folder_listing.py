"""Listing the images of one folder quickly: one os.scandir pass, with what the panes sort by."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fanqc_gui.core.imaging import is_image_file

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class FileEntry:
    """One image file as the panes show it."""

    name: str
    path: str
    mtime_ns: int
    size: int
    name_key: tuple  # natural order: img_2 before img_10, case-insensitive

    @property
    def signature(self) -> tuple[str, int, int]:
        return self.path, self.mtime_ns, self.size

    @classmethod
    def from_stat(cls, path: str | Path, st: os.stat_result) -> "FileEntry":
        path = os.fspath(path)
        name = os.path.basename(path)
        return cls(name, path, st.st_mtime_ns, st.st_size, natural_key(name))


def natural_key(name: str) -> tuple:
    parts = _DIGITS.split(name.casefold())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def list_folder(folder: str | Path) -> list[FileEntry]:
    """Image files directly in folder (hidden and temporary files skipped), in natural name order.

    A missing folder lists as empty. Files that vanish while listing are skipped.
    """
    entries: list[FileEntry] = []
    try:
        it = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return entries
    with it:
        for e in it:
            if e.name.startswith(".") or not is_image_file(e.name):
                continue
            try:
                if not e.is_file():
                    continue
                st = e.stat()
            except OSError:
                continue
            entries.append(FileEntry(e.name, e.path, st.st_mtime_ns, st.st_size, natural_key(e.name)))
    entries.sort(key=lambda f: f.name_key)
    return entries


@dataclass(frozen=True)
class FolderListing:
    """A folder's images plus their signatures, so two listings compare at C speed (set difference)."""

    folder: str
    entries: list[FileEntry]
    signatures: frozenset  # {(path, mtime_ns, size)}


def scan_folder(folder: str | Path) -> FolderListing:
    entries = list_folder(folder)
    return FolderListing(os.fspath(folder), entries, frozenset(e.signature for e in entries))


def entry_for(path: str | Path) -> FileEntry | None:
    """The entry of one file, or None if it is gone."""
    try:
        return FileEntry.from_stat(path, os.stat(path))
    except OSError:
        return None
