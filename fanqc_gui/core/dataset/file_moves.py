"""Moving image files between workspace folders, with unlimited undo/redo for the session.

Labels are folders, so relabelling an image is moving its file. Every move here:

* never overwrites: a name clash gets a suffix, ``name (2).jpg``, ``name (3).jpg`` ...
* is atomic on one filesystem, also towards other programs: one ``renameat2(RENAME_NOREPLACE)`` moves whatever
  file holds the name at that instant and fails rather than replace an existing one (a link-then-unlink
  pair had a window in which another program's rename or rewrite left the file in two folders or lost it);
* copies, fsyncs, verifies (hash) across filesystems, then takes the source away under a private name and
  removes it only if it is still the file that was copied; a file changed meanwhile is left where it was;
* changes nothing for a file that vanished or sits in / goes to a read-only folder, and says why.

``import_files`` copies files from outside the workspace (originals untouched); undoing an import moves the
copies into the trash folder, because the app never deletes permanently.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from fanqc_gui.core.atomic_io import fsync_dir
from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.imaging import is_image_file

_MAX_SUFFIX = 100_000
_SUFFIX_RE = re.compile(r"^(.*) \((\d+)\)$")
_CHUNK = 1 << 20
# link() is refused by some filesystems (FAT, exFAT, some network shares): use a reserved-name fallback
_VANISHED = "file not found: it was moved or deleted outside FanQC"
_NO_LINK_ERRNOS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


class MoveError(FanQCError, OSError):
    """One file could not be moved; the message is the reason in plain words."""


@dataclass
class MoveResult:
    """What one operation did: (source, destination) pairs done and (path, reason) failures."""

    done: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class _Step:
    kind: str  # "move" or "import"
    pairs: tuple[tuple[Path, Path], ...]  # move: (from, to); import: (original outside, copy inside)
    dest_dir: Path


def unique_destination(dest_dir: Path, name: str) -> Path:
    """dest_dir/name, or the first free ``stem (n).ext``. Only a hint: the move itself re-checks atomically."""
    for candidate in _candidates(dest_dir, name):
        if not os.path.lexists(candidate):
            return candidate
    raise MoveError(f"no free name for {name} in {dest_dir.name}/")


def _candidates(dest_dir: Path, name: str):
    yield dest_dir / name
    stem, ext = os.path.splitext(name)
    m = _SUFFIX_RE.match(stem)
    base, n = (m.group(1), int(m.group(2))) if m else (stem, 1)
    for k in range(n + 1, n + _MAX_SUFFIX):
        yield dest_dir / f"{base} ({k}){ext}"


def move_file(src: Path, dest_dir: Path, name: str | None = None, sync: bool = True) -> Path:
    """Move src into dest_dir (as `name`, default its own name, suffixed on a clash); returns the new path.

    sync=False leaves the fsync of the two folders (durability of the new names) to the caller.
    """
    src, dest_dir = Path(src), Path(dest_dir)
    if not os.path.lexists(src):
        raise MoveError(_VANISHED)
    if not src.is_file():
        raise MoveError("not a regular file")
    _require_writable(src.parent, "remove it from")
    try:
        return _place(src, dest_dir, name or src.name, sync)
    except _CrossDevice:
        return copy_file(src, dest_dir, name, remove_source=True, sync=sync)


def copy_file(src: Path, dest_dir: Path, name: str | None = None, remove_source: bool = False,
              sync: bool = True) -> Path:
    """Copy src into dest_dir verified byte for byte (temp file, fsync, hash, link into place).

    With remove_source the original is removed afterwards (a cross-filesystem move); if it cannot be
    removed the copy is taken back, so nothing changes.
    """
    src, dest_dir = Path(src), Path(dest_dir)
    try:
        before = os.stat(src)
    except FileNotFoundError:
        raise MoveError(_VANISHED) from None
    except OSError as exc:
        raise MoveError(f"cannot read it: {_why(exc)}") from None
    tmp = _copy_to_temp(src, dest_dir)
    try:
        final = _place(tmp, dest_dir, name or src.name, sync)
    finally:
        _unlink_quietly(tmp)
    if remove_source:
        _remove_if_unchanged(src, before, final)
        if sync:
            fsync_dir(src.parent)
    return final


def _remove_if_unchanged(src: Path, copied: os.stat_result, copy: Path) -> None:
    """Remove the original of a verified cross-filesystem copy, unless another program changed or replaced it
    since the copy began: then the copy is taken back and the original stays (and the user is told)."""
    aside = src.with_name(f".fanqc-moving-{os.getpid()}-{src.name}")
    try:
        _rename_no_replace(src, aside)  # from here no other program reaches it by its name
    except FileNotFoundError:
        return  # vanished meanwhile: the verified copy is now the only one, so keep it
    except OSError as exc:
        _unlink_quietly(copy)
        raise MoveError(f"cannot remove it from {src.parent.name}/: {_why(exc)}") from None
    now = os.stat(aside)
    if (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) == (copied.st_ino, copied.st_dev, copied.st_size,
                                                                  copied.st_mtime_ns):
        _unlink_quietly(aside)
        return
    _unlink_quietly(copy)
    try:
        _place(aside, src.parent, src.name, sync=False)  # back under its name (suffixed if taken meanwhile)
    except MoveError:
        pass  # it stays under the private name: found again by the user, never deleted
    raise MoveError("another program changed it while it was being copied; it was left where it was")


def _copy_to_temp(src: Path, dest_dir: Path) -> Path:
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".fanqc-", suffix=".part", dir=dest_dir)
    except FileNotFoundError:
        raise MoveError(f"folder {dest_dir.name}/ does not exist") from None
    except OSError as exc:
        raise MoveError(f"cannot write to {dest_dir.name}/: {_why(exc)}") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.blake2b(digest_size=16)
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                digest.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
        if _hash_file(tmp) != digest.hexdigest():
            raise MoveError("copy verification failed (the bytes written differ from the original)")
    except BaseException as exc:
        _unlink_quietly(tmp)
        if isinstance(exc, FileNotFoundError):
            raise MoveError(_VANISHED) from None
        if isinstance(exc, OSError) and not isinstance(exc, MoveError):
            raise MoveError(f"copy failed: {_why(exc)}") from None
        raise
    return tmp


class _CrossDevice(Exception):
    pass


def _place(src: Path, dest_dir: Path, name: str, sync: bool) -> Path:
    """Give src a new name in dest_dir without ever replacing an existing file, then drop the old name."""
    for candidate in _candidates(dest_dir, name):
        try:
            _rename_no_replace(src, candidate)
        except FileExistsError:
            continue
        except FileNotFoundError:
            if not os.path.lexists(src):
                raise MoveError(_VANISHED) from None
            raise MoveError(f"folder {dest_dir.name}/ does not exist") from None
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise _CrossDevice() from None
            if isinstance(exc, PermissionError) and os.access(dest_dir, os.W_OK) and not os.access(src.parent,
                                                                                                os.W_OK):
                raise MoveError(f"cannot remove it from {src.parent.name}/: {_why(exc)}") from None
            raise MoveError(f"cannot write to {dest_dir.name}/: {_why(exc)}") from None
        if sync:
            fsync_dir(dest_dir)
            if src.parent != dest_dir:
                fsync_dir(src.parent)
        return candidate
    raise MoveError(f"no free name for {name} in {dest_dir.name}/")


def _rename_no_replace(src: Path, dst: Path) -> None:
    """Rename src to dst in one step; FileExistsError if dst exists, however new. Never replaces a file."""
    if os.name == "nt":
        os.rename(src, dst)  # Windows' rename refuses to replace an existing file
        return
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # else: this file system cannot
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    _link_then_unlink(src, dst)


def _link_then_unlink(src: Path, dst: Path) -> None:
    """For file systems without renameat2: a second name, then the first removed, but only while src still
    names the file that was linked (another program may have replaced it in between)."""
    try:
        os.link(src, dst, follow_symlinks=False)
        linked = os.stat(dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
        # No hard links here (FAT, exFAT, some shares): reserve the name exclusively, then replace only our
        # own empty placeholder.
        os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        try:
            os.replace(src, dst)
        except OSError:
            _unlink_quietly(dst)
            raise
        return
    try:
        current = os.stat(src, follow_symlinks=False)
    except FileNotFoundError:
        return  # renamed or removed by another program after our link: dst is its only name now
    if (current.st_ino, current.st_dev) != (linked.st_ino, linked.st_dev):
        _unlink_quietly(dst)  # src now names another file: leave both alone
        raise MoveError("another program replaced it while it was being moved; nothing was moved")
    try:
        os.unlink(src)
    except OSError as exc:
        _unlink_quietly(dst)  # take the new name back: nothing changed
        raise MoveError(f"cannot remove it from {src.parent.name}/: {_why(exc)}") from None


def _load_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # glibc < 2.28, musl without it
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_renameat2 = _load_renameat2()


def _require_writable(folder: Path, doing: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MoveError(f"cannot {doing} {folder.name}/: the folder is read-only")


def _hash_file(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (read-only folder?)"
    return (exc.strerror or str(exc)).lower()


def expand_images(paths_or_folders: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files among the given paths; folders contribute the images directly inside them."""
    images: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for item in paths_or_folders:
        p = Path(item)
        if p.is_dir():
            try:
                entries = sorted(os.scandir(p), key=lambda e: e.name)
            except OSError as exc:
                skipped.append((p, f"cannot read folder: {_why(exc)}"))
                continue
            images += [Path(e.path) for e in entries if e.is_file() and is_image_file(e.name)]
        elif not os.path.lexists(p):
            skipped.append((p, "file not found"))
        elif not is_image_file(p):
            skipped.append((p, f"not an image file ({p.suffix or 'no extension'})"))
        else:
            images.append(p)
    return images, skipped


class MoveJournal:
    """Performs moves and imports and remembers them, so each can be undone and redone.

    A step is a list of (before, after) pairs. Undo moves `after` back to `before` (an import's copies go
    to the trash instead); redo moves them to `after` again. Names taken meanwhile get a suffix.
    """

    def __init__(self, trash_dir: str | Path, sync_dirs: Callable[[list[Path]], None] | None = None):
        """sync_dirs(folders) makes the renames in those folders durable (default: fsync each, now); an
        app may hand it to a background thread so a keyboard move does not wait for the disk."""
        self.trash_dir = Path(trash_dir)
        self._sync_dirs = sync_dirs or _fsync_dirs
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def describe_undo(self) -> str | None:
        return _describe(self._undo[-1]) if self._undo else None

    def describe_redo(self) -> str | None:
        return _describe(self._redo[-1]) if self._redo else None

    def move(self, paths: Iterable[str | Path], dest_dir: str | Path) -> MoveResult:
        """Move each file into dest_dir; files already there are left alone (neither done nor failed)."""
        dest_dir = Path(dest_dir)
        sources = [Path(p) for p in dict.fromkeys(paths)]
        result = self._run([(p, dest_dir, None) for p in sources if p.parent != dest_dir])
        self._record(_Step("move", tuple(result.done), dest_dir))
        return result

    def import_files(self, paths_or_folders: Iterable[str | Path], dest_dir: str | Path) -> MoveResult:
        """Copy images (and the images directly inside folders) into dest_dir; originals stay untouched."""
        dest_dir = Path(dest_dir)
        images, skipped = expand_images(paths_or_folders)
        result = MoveResult(failed=skipped)
        if _ensure_dir(dest_dir, result, images):
            for src in dict.fromkeys(images):
                if src.parent == dest_dir:
                    continue
                try:
                    result.done.append((src, copy_file(src, dest_dir, sync=False)))
                except OSError as exc:
                    result.failed.append((src, _reason(exc)))
        if result.done:
            self._sync_dirs([dest_dir])
        self._record(_Step("import", tuple(result.done), dest_dir))
        return result

    def undo(self) -> MoveResult | None:
        """Reverse the newest step; None when there is nothing to undo."""
        if not self._undo:
            return None
        step = self._undo.pop()
        if step.kind == "move":
            jobs = [(after, before.parent, before.name) for before, after in reversed(step.pairs)]
        else:  # an import is undone by moving its copies to the trash, never by deleting them
            jobs = [(after, self.trash_dir, None) for _, after in reversed(step.pairs)]
        result = self._run(jobs)
        if result.done:
            self._redo.append(_Step(step.kind, tuple((new, old) for old, new in reversed(result.done)),
                                    step.dest_dir))
        return result

    def redo(self) -> MoveResult | None:
        """Do the newest undone step again; None when there is nothing to redo."""
        if not self._redo:
            return None
        step = self._redo.pop()
        result = self._run([(before, after.parent, after.name) for before, after in step.pairs])
        if result.done:
            self._undo.append(_Step(step.kind, tuple(result.done), step.dest_dir))
        return result

    def _run(self, jobs: list[tuple[Path, Path, str | None]]) -> MoveResult:
        result = MoveResult()
        usable = {d for d in dict.fromkeys(d for _, d, _ in jobs)
                  if _ensure_dir(d, result, [s for s, dd, _ in jobs if dd == d])}
        for src, dest_dir, name in jobs:
            if dest_dir not in usable:
                continue
            try:
                result.done.append((src, move_file(src, dest_dir, name, sync=False)))
            except OSError as exc:
                result.failed.append((src, _reason(exc)))
        self._sync_done(result)
        return result

    def _sync_done(self, result: MoveResult) -> None:
        folders = dict.fromkeys(p.parent for pair in result.done for p in pair)
        if folders:
            self._sync_dirs(list(folders))

    def _record(self, step: _Step) -> None:
        if step.pairs:
            self._undo.append(step)
            self._redo.clear()


def _fsync_dirs(folders: list[Path]) -> None:
    for folder in folders:
        fsync_dir(folder)


def _ensure_dir(folder: Path, result: MoveResult, sources: list[Path]) -> bool:
    """Create a missing destination folder; on failure every file bound for it fails with the reason."""
    try:
        folder.mkdir(exist_ok=True)
        return True
    except OSError as exc:
        reason = f"cannot create folder {folder.name}/: {_why(exc)}"
    result.failed += [(s, reason) for s in sources]
    return False


def _reason(exc: OSError) -> str:
    return str(exc) if isinstance(exc, MoveError) else _why(exc)


def _describe(step: _Step) -> str:
    n = len(step.pairs)
    images = f"{n} image{'s' if n != 1 else ''}"
    if step.kind == "import":
        return f"copy {images} into {step.dest_dir.name}"
    return f"move {images} to {step.dest_dir.name}"
