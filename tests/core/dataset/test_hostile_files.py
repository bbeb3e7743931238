"""Files no camera would write, found in a workspace: each is skipped with its reason; none stops a scan,
hangs a read or costs gigabytes."""
from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from fanqc_gui.core.dataset.scan import scan_workspace
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.image_files import MAX_FILE_BYTES, list_image_files
from fanqc_gui.core.imaging import ImageError, decode_image


def _reason(report, name: str) -> str:
    found = [p.reason for p in report.problems if p.path.name == name]
    assert found, f"{name} is not reported: {[(p.path.name, p.reason) for p in report.problems]}"
    return found[0]


def test_links_folders_and_hidden_files_are_reported_not_fatal(demo_workspace, tmp_path):
    go, ng, inbox = demo_workspace / "GO", demo_workspace / "NG", demo_workspace / "inbox"
    outside = tmp_path / "elsewhere.png"
    cv2.imwrite(str(outside), np.zeros((32, 32, 3), np.uint8))
    os.symlink("loop.jpg", go / "loop.jpg")  # a link to itself
    os.symlink("loop2.jpg", inbox / "loop2.jpg")  # the inbox too: it once aborted every command
    os.symlink(outside, go / "outside.png")
    os.symlink("missing.jpg", ng / "dangling.jpg")
    (ng / "folder.jpg").mkdir()
    os.mkfifo(ng / "pipe.png")
    inside_target = sorted(go.iterdir())[0]
    os.symlink(inside_target, ng / "link-inside.png")  # inside the workspace: allowed
    (go / ".hidden.jpg").write_bytes(inside_target.read_bytes())
    report = scan_workspace(open_workspace(demo_workspace))
    assert "loop" in _reason(report, "loop.jpg")
    assert "outside the workspace" in _reason(report, "outside.png")
    assert "broken link" in _reason(report, "dangling.jpg")
    assert "folder" in _reason(report, "folder.jpg")
    assert "not a regular file" in _reason(report, "pipe.png")
    assert "hidden" in _reason(report, ".hidden.jpg")
    used = {r.path.name for r in report.images}
    assert not used & {"loop.jpg", "outside.png", "dangling.jpg", "folder.jpg", "pipe.png", ".hidden.jpg"}
    assert report.inbox_count == len(list_image_files(inbox)[0])


def test_a_fifo_is_refused_at_once_instead_of_hanging(tmp_path):
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(_try(decode_image, fifo)), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "reading a FIFO hung"
    assert "not a regular file" in outcome[0]


def test_devices_are_refused(tmp_path):
    assert "not a regular file" in _try(decode_image, Path("/dev/zero"))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "huge.jpg"
    with open(big, "wb") as fh:  # sparse: no disk used
        fh.write(b"\xff\xd8\xff")
        fh.truncate(MAX_FILE_BYTES + 1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "too large" in _try(decode_image, big)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB: nothing read


@pytest.mark.parametrize("suffix, params", [(".tif", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 1]),
                                            (".png", [cv2.IMWRITE_PNG_COMPRESSION, 9])])
def test_pixel_bombs_of_every_format_are_refused_without_decoding(tmp_path, suffix, params):
    """A small file that declares a huge image (here 12000x12000: 144 MP, limit 100 MP)."""
    path = tmp_path / f"bomb{suffix}"
    assert cv2.imwrite(str(path), np.zeros((12000, 12000), np.uint8), params)
    assert path.stat().st_size < 50_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "too large" in _try(decode_image, path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB


def _try(fn, *args) -> str:
    try:
        fn(*args)
    except ImageError as exc:
        return str(exc)
    return "no error"


def test_fanqc_scan_decodes_so_a_corrupt_file_is_reported_before_training(demo_workspace, capsys):
    import json

    from fanqc_gui.cli import main

    good = sorted((demo_workspace / "GO").iterdir())[0].read_bytes()
    rng = np.random.default_rng(0)
    garbled = good[:200] + rng.integers(0, 256, len(good) - 400, dtype=np.uint8).tobytes() + good[-200:]
    (demo_workspace / "GO" / "garbled.jpg").write_bytes(garbled)
    assert main(["scan", str(demo_workspace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    reasons = {Path(p["path"]).name: p["reason"] for p in report["problems"]}
    assert "cannot decode" in reasons["garbled.jpg"]


def test_a_camera_number_beyond_any_camera_is_one_clear_error():
    from fanqc_gui.core.station.camera_sources import SourceError, SourceSpec

    with pytest.raises(SourceError, match="too large"):
        SourceSpec.parse(str(2**31))


def test_inspect_of_a_folder_names_every_image_it_could_not_judge(tmp_path, capsys):
    """The headless station on an image folder with unreadable files: each is named with its reason."""
    import json

    from fanqc_gui.cli import main
    from fanqc_gui.core.models.demo_model import install_demo_model
    from fanqc_gui.core.models.model_store import ModelStore

    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"ok{i}.png"), np.full((64, 64, 3), 40 * i, np.uint8))
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    ws = tmp_path / "ws"
    (ws / "GO").mkdir(parents=True)
    (ws / "NG").mkdir()
    code = main(["inspect", "--source", str(folder), "--workspace", str(ws), "--models", str(store.root), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["frames"] == 3
    assert {s["file"] for s in doc["skipped_files"]} == {"empty.png", "text.jpg"}
    assert "skipped empty.png" in err and "skipped text.jpg" in err


def test_a_file_just_over_the_size_limit_says_by_how_much(tmp_path):
    """It once read "file too large (268 MB; limit 268 MB)"."""
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    assert f"{MAX_FILE_BYTES + 1:,} bytes" in _try(decode_image, big)
