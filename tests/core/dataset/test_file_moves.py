"""The move engine on real files: no overwrite, undo/redo, imports, vanished files, read-only folders."""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanqc_gui.core.dataset import file_moves
from fanqc_gui.core.dataset.file_moves import MoveJournal, move_file, unique_destination

FOLDERS = ("inbox", "GO", "NG", "trash")


def _ws(root: Path) -> dict[str, Path]:
    dirs = {name: root / name for name in FOLDERS}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _hashes(root: Path) -> Counter:
    return Counter(hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file())


def _layout(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_move_and_undo_redo(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    b = _write(d["inbox"] / "b.jpg", b"B")
    j = MoveJournal(d["trash"])
    assert not j.can_undo and not j.can_redo and j.undo() is None and j.redo() is None

    res = j.move([a, b], d["GO"])
    assert res.ok and res.done == [(a, d["GO"] / "a.jpg"), (b, d["GO"] / "b.jpg")]
    assert not a.exists() and (d["GO"] / "a.jpg").read_bytes() == b"A"
    assert j.describe_undo() == "move 2 images to GO"

    res = j.undo()
    assert res.ok and a.read_bytes() == b"A" and b.read_bytes() == b"B"
    assert not any(d["GO"].iterdir()) and j.can_redo and not j.can_undo

    res = j.redo()
    assert res.ok and sorted(p.name for p in d["GO"].iterdir()) == ["a.jpg", "b.jpg"]
    assert j.can_undo and not j.can_redo


def test_new_move_clears_redo(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    j = MoveJournal(d["trash"])
    j.move([a], d["GO"])
    j.undo()
    j.move([a], d["NG"])
    assert not j.can_redo
    assert (d["NG"] / "a.jpg").exists()


def test_name_clash_gets_suffix_and_never_overwrites(tmp_path):
    d = _ws(tmp_path)
    _write(d["GO"] / "x.jpg", b"old")
    _write(d["GO"] / "x (2).jpg", b"old2")
    src = _write(d["inbox"] / "x.jpg", b"new")
    res = MoveJournal(d["trash"]).move([src], d["GO"])
    assert res.done == [(src, d["GO"] / "x (3).jpg")]
    assert (d["GO"] / "x.jpg").read_bytes() == b"old"
    assert (d["GO"] / "x (2).jpg").read_bytes() == b"old2"
    assert (d["GO"] / "x (3).jpg").read_bytes() == b"new"


def test_suffixed_name_continues_its_number(tmp_path):
    d = _ws(tmp_path)
    _write(d["GO"] / "x (2).jpg", b"1")
    assert unique_destination(d["GO"], "x (2).jpg") == d["GO"] / "x (3).jpg"
    assert unique_destination(d["GO"], "y.jpg") == d["GO"] / "y.jpg"


def test_undo_into_a_taken_name_gets_suffix(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    j = MoveJournal(d["trash"])
    j.move([a], d["GO"])
    _write(d["inbox"] / "a.jpg", b"someone else's")  # the camera station reused the name
    res = j.undo()
    assert res.done == [(d["GO"] / "a.jpg", d["inbox"] / "a (2).jpg")]
    assert (d["inbox"] / "a.jpg").read_bytes() == b"someone else's"
    assert (d["inbox"] / "a (2).jpg").read_bytes() == b"A"
    j.redo()
    assert (d["GO"] / "a.jpg").read_bytes() == b"A"
    j.undo()
    assert (d["inbox"] / "a (2).jpg").read_bytes() == b"A"


def test_vanished_file_changes_nothing(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    gone = d["inbox"] / "gone.jpg"
    j = MoveJournal(d["trash"])
    res = j.move([gone, a], d["NG"])
    assert res.failed == [(gone, "file not found: it was moved or deleted outside FanQC")]
    assert res.done == [(a, d["NG"] / "a.jpg")]
    assert not (d["NG"] / "gone.jpg").exists()


def test_undo_of_a_file_moved_away_outside(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    j = MoveJournal(d["trash"])
    j.move([a], d["GO"])
    (d["GO"] / "a.jpg").unlink()
    res = j.undo()
    assert res.done == [] and "not found" in res.failed[0][1]
    assert not j.can_redo


def _chmod_effective(folder: Path) -> bool:
    return not os.access(folder, os.W_OK)


@pytest.mark.parametrize("which", ["source", "destination"])
def test_read_only_folder_changes_nothing(tmp_path, which):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    locked = d["inbox"] if which == "source" else d["GO"]
    locked.chmod(0o555)
    try:
        if not _chmod_effective(locked):
            pytest.skip("running as root: chmod does not make a folder read-only")
        before = _layout(tmp_path)
        res = MoveJournal(d["trash"]).move([a], d["GO"])
        reason = res.failed[0][1]
        assert res.done == [] and ("read-only" in reason or "permission denied" in reason)
        assert _layout(tmp_path) == before
    finally:
        locked.chmod(0o755)


def test_a_source_folder_that_refuses_removal_changes_nothing(tmp_path, monkeypatch):
    """Simulates a read-only source folder even as root (where chmod has no effect): the OS refuses the
    rename out of it and says the folder is not writable."""
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    real_rename, real_access = file_moves._rename_no_replace, os.access

    def rename(src, dst):
        if Path(src) == a:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_rename(src, dst)

    monkeypatch.setattr(file_moves, "_rename_no_replace", rename)
    monkeypatch.setattr(file_moves.os, "access", lambda p, mode: Path(p) != d["inbox"] and real_access(p, mode))
    res = MoveJournal(d["trash"]).move([a], d["GO"])
    assert res.done == [] and "cannot remove it from inbox/" in res.failed[0][1]
    assert a.read_bytes() == b"A" and not any(d["GO"].iterdir())


def test_cross_filesystem_move_copies_verifies_and_removes(tmp_path, monkeypatch):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A" * 3_000_000)
    _write(d["GO"] / "a.jpg", b"taken")
    mtime = a.stat().st_mtime_ns

    def link(src, dst, **kwargs):  # inbox/ and GO/ on two file systems
        if Path(src).parent != Path(dst).parent and not Path(src).name.startswith(".fanqc-"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return os_link(src, dst, **kwargs)

    os_link = os.link
    monkeypatch.setattr(file_moves, "_renameat2", None)  # the link path, where EXDEV is simulated
    monkeypatch.setattr(file_moves.os, "link", link)
    dst = move_file(a, d["GO"])
    assert dst == d["GO"] / "a (2).jpg" and dst.read_bytes() == b"A" * 3_000_000
    assert dst.stat().st_mtime_ns == mtime
    assert not a.exists() and (d["GO"] / "a.jpg").read_bytes() == b"taken"
    assert [p.name for p in d["GO"].iterdir() if p.name.startswith(".")] == []


def test_cross_filesystem_for_real(tmp_path):
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem available")
    with tempfile.TemporaryDirectory(dir=other) as far:
        src = _write(Path(far) / "far.jpg", b"far away")
        d = _ws(tmp_path)
        j = MoveJournal(d["trash"])
        res = j.move([src], d["inbox"])
        assert res.ok and not src.exists() and (d["inbox"] / "far.jpg").read_bytes() == b"far away"
        j.undo()
        assert src.read_bytes() == b"far away"


def test_no_hardlink_filesystem_fallback_never_overwrites(tmp_path, monkeypatch):
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"A")
    _write(d["GO"] / "a.jpg", b"old")

    def no_link(src, dst, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(file_moves, "_renameat2", None)  # a file system with neither renameat2 nor links
    monkeypatch.setattr(file_moves.os, "link", no_link)
    assert move_file(a, d["GO"]) == d["GO"] / "a (2).jpg"
    assert (d["GO"] / "a.jpg").read_bytes() == b"old" and (d["GO"] / "a (2).jpg").read_bytes() == b"A"


def test_import_copies_and_leaves_originals(tmp_path):
    d = _ws(tmp_path / "ws")
    outside = tmp_path / "camera"
    outside.mkdir()
    (outside / "sub").mkdir()
    f1 = _write(outside / "p1.png", b"P1")
    f2 = _write(outside / "p2.jpg", b"P2")
    _write(outside / "notes.txt", b"text")
    _write(outside / "sub" / "deep.jpg", b"deep")
    single = _write(tmp_path / "single.JPG", b"S")
    _write(d["inbox"] / "p1.png", b"already here")
    j = MoveJournal(d["trash"])

    res = j.import_files([outside, single, tmp_path / "missing.jpg", outside / "notes.txt"], d["inbox"])
    got = {src.name: dst.name for src, dst in res.done}
    assert got == {"p1.png": "p1 (2).png", "p2.jpg": "p2.jpg", "single.JPG": "single.JPG"}
    assert {p.name for p, _ in res.failed} == {"missing.jpg", "notes.txt"}
    assert f1.read_bytes() == b"P1" and f2.read_bytes() == b"P2" and single.exists()
    assert (d["inbox"] / "p1 (2).png").read_bytes() == b"P1"
    assert j.describe_undo() == "copy 3 images into inbox"

    j.undo()  # copies go to the trash, never deleted
    assert sorted(p.name for p in d["inbox"].iterdir()) == ["p1.png"]
    assert sorted(p.name for p in d["trash"].iterdir()) == ["p1 (2).png", "p2.jpg", "single.JPG"]
    j.redo()
    assert sorted(p.name for p in d["inbox"].iterdir()) == ["p1 (2).png", "p1.png", "p2.jpg", "single.JPG"]
    assert not any(d["trash"].iterdir())


def test_moving_into_own_folder_is_a_no_op(tmp_path):
    d = _ws(tmp_path)
    a = _write(d["GO"] / "a.jpg", b"A")
    j = MoveJournal(d["trash"])
    res = j.move([a], d["GO"])
    assert res.done == [] and res.failed == [] and not j.can_undo


def test_trash_is_created_on_first_use(tmp_path):
    (tmp_path / "inbox").mkdir()
    a = _write(tmp_path / "inbox" / "a.jpg", b"A")
    res = MoveJournal(tmp_path / "trash").move([a], tmp_path / "trash")
    assert res.ok and (tmp_path / "trash" / "a.jpg").exists()


# --- property: whatever the sequence of moves, undos and redos, no file content is lost or duplicated ---

_op = st.one_of(
    st.tuples(st.just("move"), st.sampled_from(FOLDERS), st.sampled_from(FOLDERS),
              st.lists(st.integers(0, 7), min_size=1, max_size=4)),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=25), names=st.lists(st.sampled_from(["a.jpg", "b.jpg", "a (2).jpg"]),
                                                      min_size=8, max_size=8))
def test_random_moves_undos_redos_keep_every_file(ops, names):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        d = _ws(root)
        for i, name in enumerate(names):  # same names in several folders force suffixes; duplicates too
            folder = d[FOLDERS[i % 4]]
            path = folder / name
            if not path.exists():
                _write(path, f"content {i % 5}".encode())
        initial_layout = _layout(root)
        initial = _hashes(root)
        j = MoveJournal(d["trash"])
        for op in ops:
            if op[0] == "move":
                _, src_name, dst_name, picks = op
                files = sorted(d[src_name].iterdir())
                chosen = [files[k % len(files)] for k in picks] if files else []
                j.move(chosen, d[dst_name])
            elif op[0] == "undo":
                j.undo()
            else:
                j.redo()
            assert _hashes(root) == initial
            assert not [p for p in root.rglob(".fanqc-*")]
        while j.can_undo:
            assert j.undo().ok
        assert _layout(root) == initial_layout


def test_cross_filesystem_move_leaves_a_file_changed_during_the_copy(tmp_path, monkeypatch):
    """Another program rewrites the original while it is being copied to another file system: the copy is
    taken back and the original, with its new content, stays where it was."""
    d = _ws(tmp_path)
    a = _write(d["inbox"] / "a.jpg", b"old content")
    real_copy = file_moves._copy_to_temp

    def copy_then_rewrite(src, dest_dir):
        tmp = real_copy(src, dest_dir)
        replacement = src.with_name("writer.tmp")
        replacement.write_bytes(b"new content from another program")
        os.replace(replacement, src)  # how most programs save: a new file under the old name
        return tmp

    monkeypatch.setattr(file_moves, "_renameat2", None)
    os_link = os.link

    def link(src, dst, **kwargs):  # inbox/ and GO/ on two file systems
        if Path(src).parent != Path(dst).parent and not Path(src).name.startswith(".fanqc-"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return os_link(src, dst, **kwargs)

    monkeypatch.setattr(file_moves.os, "link", link)
    monkeypatch.setattr(file_moves, "_copy_to_temp", copy_then_rewrite)
    res = MoveJournal(d["trash"]).move([a], d["GO"])
    assert res.done == [] and "another program changed it" in res.failed[0][1]
    assert a.read_bytes() == b"new content from another program"
    assert not any(d["GO"].iterdir()) and sorted(p.name for p in d["inbox"].iterdir()) == ["a.jpg"]


def test_moves_race_an_outside_program_without_losing_or_doubling_files(tmp_path):
    """Sorting while another program renames files and saves new versions over them in the same folders: no
    file ends up with two names (in GO and NG at once) and no saved version is lost."""
    import random
    import threading
    import time

    d = _ws(tmp_path)
    for i in range(40):
        _write(d["GO" if i % 2 else "NG"] / f"p{i}.jpg", f"{i}:0".encode())
    latest = {i: 0 for i in range(40)}
    stop = threading.Event()
    rng_w, rng_m = random.Random(1), random.Random(2)

    def files():
        return [p for k in ("GO", "NG") for p in d[k].iterdir() if not p.name.startswith(".")]

    def writer():
        n = 0
        while not stop.is_set():
            candidates = files()
            if not candidates:
                continue
            p = rng_w.choice(candidates)
            n += 1
            try:
                ident = int(p.read_bytes().split(b":")[0])
                if rng_w.random() < 0.5:
                    base = p.name.split("-")[-1]  # a new name each time, never longer than w<n>-p<i>.jpg
                    os.rename(p, p.with_name(f"w{n}-{base}"))  # renamed by the other program
                else:
                    tmp = p.with_name(f".w{n}.tmp")
                    version = latest[ident] + 1
                    tmp.write_bytes(f"{ident}:{version}".encode())
                    os.replace(tmp, p)  # a new version saved over it
                    latest[ident] = version
            except (FileNotFoundError, ValueError):
                continue

    journal = MoveJournal(d["trash"])
    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 3
    moves = 0
    while time.monotonic() < deadline:
        candidates = files()
        pick = rng_m.sample(candidates, min(3, len(candidates)))
        journal.move(pick, d[rng_m.choice(("GO", "NG"))])
        moves += len(pick)
    stop.set()
    thread.join()
    assert moves > 200
    found = files()
    assert all(p.stat().st_nlink == 1 for p in found), "a file has two names"
    contents = {p.read_bytes() for p in found}
    lost = [f"{i}:{v}" for i, v in latest.items() if f"{i}:{v}".encode() not in contents]
    assert not lost, f"saved versions lost: {lost}"
