"""Finding and reading image files without trusting them: one listing and one reader that every command uses.

A folder may hold anything another program or a careless copy left there: symbolic-link loops, links that
point outside the workspace or nowhere, folders named like images, FIFOs or devices with an image suffix,
hidden files, files of gigabytes. Each is skipped with a reason the user can read; none stops a listing,
hangs a read or fills the memory.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from fanqc_gui.core.errors import FanQCError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
MAX_FILE_BYTES = 256 * 1024 * 1024  # a 100 MP JPEG is ~50 MB; larger files are refused before being read
_HEADER_BYTES = 65536


class ImageError(FanQCError, ValueError):
    """A file that cannot be used as an image; the message says why in plain words."""


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


def readable_name(name: str) -> str:
    """name for the screen: a file name that is not UTF-8 (escaped bytes, which Qt would drop) with each
    undecodable byte shown as the replacement character."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "replace")


def list_image_files(folder: str | Path, inside: str | Path | None = None) -> tuple[list[Path], list[SkippedFile]]:
    """(usable image files directly in folder, sorted by name; the image-named entries skipped, with why).

    inside: links must resolve to a file under this folder (the workspace); links elsewhere are skipped, so
    nothing outside the workspace is trained on by accident."""
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    except OSError as exc:
        return [], [SkippedFile(folder, f"cannot list the folder: {exc.strerror or exc}")]
    root = Path(inside).resolve() if inside is not None else None
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    for entry in entries:
        if not is_image_file(entry.name):
            continue
        path = Path(entry.path)
        reason = _why_unusable(entry, root)
        if reason is None:
            found.append(path)
        else:
            skipped.append(SkippedFile(path, reason))
    found.sort()
    skipped.sort(key=lambda s: str(s.path))
    return found, skipped


def _why_unusable(entry: os.DirEntry, root: Path | None) -> str | None:
    if entry.name.startswith("."):
        return "hidden file (its name starts with '.'); ignored like the sorting desk ignores it"
    try:
        is_link = entry.is_symlink()
        st = os.stat(entry.path)  # follows links: a loop or a dangling link raises here
    except OSError as exc:
        if is_link_error(exc):
            return "symbolic link loop; skipped"
        if isinstance(exc, FileNotFoundError):
            return "broken link (it points to nothing); skipped" if _is_link(entry) else "file vanished"
        return f"cannot read file: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "a folder with an image name, not a file; skipped"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a device, pipe or socket); skipped"
    if is_link and root is not None:
        target = Path(os.path.realpath(entry.path))
        if root not in target.parents:
            return f"link to a file outside the workspace ({target}); skipped"
    return None


def is_link_error(exc: OSError) -> bool:
    return exc.errno == errno.ELOOP


def _is_link(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def read_image_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular image file. Refuses (ImageError) what is not a regular file -- without blocking
    on a FIFO -- and files over max_bytes before reading them."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except IsADirectoryError:
        raise ImageError("is a folder, not a file") from None
    except OSError as exc:
        if is_link_error(exc):
            raise ImageError("symbolic link loop") from None
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImageError("is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError("not a regular file (a device, pipe or socket)")
        if st.st_size > max_bytes:
            size = _megabytes(st.st_size)
            if size == _megabytes(max_bytes):  # just over the limit: "268 MB; limit 268 MB" would say nothing
                size = f"{st.st_size:,} bytes"
            raise ImageError(f"file too large ({size}; limit {_megabytes(max_bytes)})")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, max(_HEADER_BYTES, st.st_size - total + 1))
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise ImageError(f"file too large (over {_megabytes(max_bytes)})")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _megabytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
