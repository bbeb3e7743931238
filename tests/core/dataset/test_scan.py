"""Scanning workspaces: what is listed, counted, reported, de-duplicated and split."""
from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from fanqc_gui.core.dataset.scan import DatasetError, scan_folders, scan_workspace, split_stratified
from fanqc_gui.core.dataset.workspace import GO, NG, ClassMapping, Workspace, open_workspace


def _write_png(path: Path, seed: int, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.write_bytes(cv2.imencode(".png", img)[1].tobytes())
    return path


def _fill(folder: Path, n: int, first_seed: int, prefix: str = "img") -> list[Path]:
    return [_write_png(folder / f"{prefix}{i:03d}.png", first_seed + i) for i in range(n)]


def _names(paths) -> set[str]:
    return {Path(p).name for p in paths}


def test_demo_workspace_counts_per_class_and_inbox(demo_workspace):
    report = scan_workspace(open_workspace(demo_workspace))
    assert report.counts == {"GO": 24, "NG": 24, "inbox": 8}
    assert report.problems == [] and report.duplicates == []
    inbox = demo_workspace / "inbox"
    assert not any(r.path.parent == inbox for r in report.images), "inbox images must not be trained on"
    assert {r.label for r in report.images if r.path.parent.name == "NG"} == {NG}
    assert {r.label for r in report.images if r.path.parent.name == "GO"} == {GO}


def test_every_image_extension_in_any_case_is_listed(tmp_path):
    root = tmp_path / "ws"
    names = ["a.jpg", "b.JPG", "c.jpeg", "d.png", "e.PNG", "f.bmp", "g.tif", "h.TIFF", "i.webp"]
    img = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    for i, name in enumerate(names):
        ext = "." + name.rsplit(".", 1)[1].lower()
        ext = ".jpg" if ext == ".jpeg" else ext
        (root / "GO").mkdir(parents=True, exist_ok=True)
        (root / "GO" / name).write_bytes(cv2.imencode(ext, np.roll(img, i, axis=0))[1].tobytes())
    _fill(root / "NG", 4, 100)
    (root / "GO" / "readme.txt").write_text("not an image")
    (root / "GO" / "anim.gif").write_bytes(b"GIF89a")
    (root / "GO" / "sub.jpg").mkdir()  # a folder that looks like an image is not listed: it is reported
    report = scan_folders(root, ClassMapping())
    assert _names(r.path for r in report.images if r.label == GO) == set(names)
    assert report.counts["GO"] == len(names) and report.counts["NG"] == 4
    assert [(p.path.name, "folder" in p.reason) for p in report.problems] == [("sub.jpg", True)]


def test_explicit_mapping_100_is_go_and_60_is_ng(tmp_path):
    root = tmp_path / "ws"
    go = _fill(root / "100", 5, 0)
    ng = _fill(root / "60", 4, 50)
    (root / "fanqc-workspace.json").write_text(json.dumps({"schema": 1, "go_folder": "100", "ng_folder": "60"}))
    ws = open_workspace(root)
    assert ws.mapping == ClassMapping(go_folder="100", ng_folder="60")
    report = scan_workspace(ws)
    labels = {r.path: r.label for r in report.images}
    assert [labels[p] for p in go] == [GO] * 5 and [labels[p] for p in ng] == [NG] * 4
    assert report.counts == {"GO": 5, "NG": 4, "inbox": 0}
    assert report.to_dict()["class_mapping"]["folders"] == {"GO": "100", "NG": "60"}


def test_ng_is_label_1_even_when_its_folder_sorts_first(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "ok", 4, 0)
    _fill(root / "def", 4, 50)  # "def" < "ok": the reference script would have called it class 0
    report = scan_folders(root, ClassMapping(go_folder="ok", ng_folder="def"))
    assert {r.label for r in report.images if r.path.parent.name == "def"} == {NG}
    assert {r.label for r in report.images if r.path.parent.name == "ok"} == {GO}
    mapping = ClassMapping(go_folder="ok", ng_folder="def")
    assert "NG = folder 'def'" in mapping.describe() and "GO = folder 'ok'" in mapping.describe()
    assert ClassMapping.from_dict(mapping.to_dict()) == mapping


def test_explicit_folder_names_override_the_settings_file(tmp_path):
    root = tmp_path / "ws"
    (root / "a").mkdir(parents=True)
    Workspace(root=root, mapping=ClassMapping("a", "b")).save_settings()
    assert open_workspace(root).mapping == ClassMapping("a", "b")
    assert open_workspace(root, go_folder="x", ng_folder="y").mapping == ClassMapping("x", "y")


@pytest.mark.parametrize("go, ng", [("GO", "GO"), ("", "NG"), ("a/b", "NG"), ("..", "NG")])
def test_invalid_class_folder_names_are_refused(go, ng):
    with pytest.raises(ValueError):
        ClassMapping(go_folder=go, ng_folder=ng)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"go_folder": null}', '{"ng_folder": ["60"]}'])
def test_damaged_workspace_settings_file_is_a_clear_error(tmp_path, content):
    (tmp_path / "fanqc-workspace.json").write_text(content)
    with pytest.raises(ValueError, match="cannot read fanqc-workspace.json"):
        open_workspace(tmp_path)


def test_folder_numbers_written_without_quotes_in_the_settings_file(tmp_path):
    (tmp_path / "fanqc-workspace.json").write_text('{"schema": 1, "go_folder": 100, "ng_folder": 60}')
    assert open_workspace(tmp_path).mapping == ClassMapping(go_folder="100", ng_folder="60")


def test_exact_duplicates_are_reported_and_trained_once(tmp_path):
    root = tmp_path / "ws"
    go = _fill(root / "GO", 6, 0)
    _fill(root / "NG", 6, 50)
    copy = root / "GO" / "copy_of_first.png"
    copy.write_bytes(go[0].read_bytes())
    report = scan_folders(root, ClassMapping())
    assert [_names(g) for g in report.duplicates] == [{go[0].name, copy.name}]
    assert report.count(GO) == 6, "two identical files count as one image"
    assert len({r.digest for r in report.images}) == len(report.images)
    for seed in range(20):
        split = split_stratified(report.images, 0.5, seed)
        train_digests = {r.digest for r in split.train}
        assert not train_digests & {r.digest for r in split.val}


def test_same_image_in_go_and_ng_is_reported_and_skipped(tmp_path):
    root = tmp_path / "ws"
    go = _fill(root / "GO", 5, 0)
    _fill(root / "NG", 5, 50)
    conflict = root / "NG" / "also_here.png"
    conflict.write_bytes(go[2].read_bytes())
    report = scan_folders(root, ClassMapping())
    reasons = {p.path.name: p.reason for p in report.problems}
    assert set(reasons) == {go[2].name, conflict.name}
    assert all("both GO and NG" in r for r in reasons.values())
    assert go[2] not in {r.path for r in report.images}
    assert report.counts["GO"] == 4 and report.counts["NG"] == 5


def test_split_is_stratified_about_20_percent_per_class(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 50, 0)
    _fill(root / "NG", 15, 500)
    report = scan_folders(root, ClassMapping())
    split = split_stratified(report.images, 0.2, seed=1)
    val_go = sum(r.label == GO for r in split.val)
    val_ng = sum(r.label == NG for r in split.val)
    assert (val_go, val_ng) == (10, 3)
    assert len(split.train) + len(split.val) == 65
    assert {r.path for r in split.train}.isdisjoint({r.path for r in split.val})


def test_split_is_reproducible_independent_of_order_and_changes_with_seed(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 30, 0)
    _fill(root / "NG", 30, 500)
    images = scan_folders(root, ClassMapping()).images
    shuffled = images[:]
    random.Random(7).shuffle(shuffled)

    def val_paths(records, seed):
        return sorted(str(r.path) for r in split_stratified(records, 0.2, seed).val)

    assert val_paths(images, 3) == val_paths(images, 3) == val_paths(shuffled, 3)
    assert val_paths(images, 3) != val_paths(images, 4)


def test_tiny_class_still_gets_one_validation_image(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 20, 0)
    _fill(root / "NG", 2, 500)
    split = split_stratified(scan_folders(root, ClassMapping()).images, 0.2, 0)
    assert sum(r.label == NG for r in split.val) == 1 and sum(r.label == NG for r in split.train) == 1


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2.0])
def test_impossible_validation_fraction_is_refused(fraction):
    with pytest.raises(DatasetError, match="validation split"):
        split_stratified([], fraction)


def test_empty_class_folder_cannot_be_trained(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 6, 0)
    (root / "NG").mkdir()
    report = scan_folders(root, ClassMapping())
    assert report.counts["NG"] == 0
    with pytest.raises(DatasetError, match=r"class NG has 0 usable image\(s\) in .*NG"):
        report.require_trainable()


def test_single_class_workspace_cannot_be_trained(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 6, 0)
    report = scan_folders(root, ClassMapping())  # NG/ missing altogether
    with pytest.raises(DatasetError, match="class NG has 0"):
        report.require_trainable()


def test_missing_folder_and_folder_without_classes_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        scan_folders(tmp_path / "nowhere", ClassMapping())
    (tmp_path / "holiday photos").mkdir()
    with pytest.raises(DatasetError, match="no class folders 'GO/' and 'NG/'"):
        scan_folders(tmp_path / "holiday photos", ClassMapping())
    with pytest.raises(FileNotFoundError, match="workspace folder not found"):
        open_workspace(tmp_path / "nowhere")


def test_fingerprint_follows_content_not_file_names(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 5, 0)
    _fill(root / "NG", 5, 50)
    before = scan_folders(root, ClassMapping()).fingerprint()
    (root / "GO" / "img000.png").rename(root / "GO" / "renamed.png")
    assert scan_folders(root, ClassMapping()).fingerprint() == before
    _write_png(root / "NG" / "new.png", 999)
    assert scan_folders(root, ClassMapping()).fingerprint() != before


def test_scan_progress_reaches_the_total(tmp_path):
    root = tmp_path / "ws"
    _fill(root / "GO", 5, 0)
    _fill(root / "NG", 3, 50)
    calls = []
    scan_folders(root, ClassMapping(), progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (8, 8)
