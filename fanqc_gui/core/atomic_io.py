"""Atomic writes: temp file in the same folder, fsync, os.replace. A crash leaves the old file or the new one."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _process_umask() -> int:
    """The umask, read once at import (setting it to read it back is not thread-safe later)."""
    try:  # Linux shows it without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()


def mkstemp_shared(prefix: str, suffix: str, dir: str | Path) -> tuple[int, str]:
    """tempfile.mkstemp, but the file gets the mode any new file of the user gets (0666 less the umask) rather
    than mkstemp's private 0600: a model saved by a supervisor's account must be readable by the station's."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
    except (OSError, AttributeError):  # no fchmod (Windows) or a file system without modes
        pass
    return fd, name


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_shared(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: str | Path, obj) -> None:
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A file name that is not UTF-8 (kept by Python as lone surrogates): \udcxx escapes are valid JSON and
        # read back into the same name.
        text = json.dumps(obj, indent=2, ensure_ascii=True).encode("ascii")
    write_bytes_atomic(path, text + b"\n")


def fsync_dir(folder: str | Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
