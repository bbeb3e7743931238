"""Tests for the synthetic demo workspace generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fanqc_gui.core.dataset.demo_data import (
    DEFECTS,
    DemoSummary,
    generate_demo_workspace,
    render_part,
    write_demo_video,
)


def _read(path: Path) -> np.ndarray:
    img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"cannot decode {path}"
    return img


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_counts_and_layout(tmp_path: Path) -> None:
    summary = generate_demo_workspace(tmp_path / "ws", per_class=12, inbox=6, size=64)
    assert isinstance(summary, DemoSummary)
    assert summary.root == tmp_path / "ws"
    assert summary.counts == {"GO": 12, "NG": 12, "inbox": 6}
    assert sum(summary.defects.values()) == 12
    go = sorted(p.name for p in (tmp_path / "ws" / "GO").iterdir())
    ng = sorted(p.name for p in (tmp_path / "ws" / "NG").iterdir())
    inbox = sorted(p.name for p in (tmp_path / "ws" / "inbox").iterdir())
    assert go == [f"go_{i:04d}.jpg" for i in range(12)]
    assert len(ng) == 12 and all(n.startswith("ng_") and n.endswith(".jpg") for n in ng)
    assert inbox == [f"inbox_{i:04d}.jpg" for i in range(6)]
    assert not list((tmp_path / "ws").rglob("*.tmp"))


def test_every_defect_present_and_images_decode(tmp_path: Path) -> None:
    summary = generate_demo_workspace(tmp_path, per_class=10, inbox=4, size=96)
    assert set(summary.defects) == set(DEFECTS)
    assert all(n == 2 for n in summary.defects.values())
    names = [p.name for p in (tmp_path / "NG").iterdir()]
    for defect in DEFECTS:
        assert any(n.endswith(f"_{defect}.jpg") for n in names), defect
    for path in tmp_path.rglob("*.jpg"):
        img = _read(path)
        assert img.shape == (96, 96, 3) and img.dtype == np.uint8


def test_deterministic(tmp_path: Path) -> None:
    generate_demo_workspace(tmp_path / "a", per_class=5, inbox=4, size=64, seed=3)
    generate_demo_workspace(tmp_path / "b", per_class=5, inbox=4, size=64, seed=3)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 14 and a == b
    generate_demo_workspace(tmp_path / "c", per_class=5, inbox=4, size=64, seed=4)
    assert _files(tmp_path / "c") != a


def test_refuses_non_empty_folder(tmp_path: Path) -> None:
    existing = tmp_path / "NG" / "my_part.jpg"
    existing.parent.mkdir()
    existing.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="NG"):
        generate_demo_workspace(tmp_path, per_class=3, inbox=2, size=64)
    assert existing.read_bytes() == b"precious"
    assert list((tmp_path / "NG").iterdir()) == [existing]
    assert not (tmp_path / "GO").exists() or not any((tmp_path / "GO").iterdir())


def test_non_ascii_root(tmp_path: Path) -> None:
    root = tmp_path / "démo ワーク"
    summary = generate_demo_workspace(root, per_class=2, inbox=2, size=64, go_folder="良品", ng_folder="不良")
    assert summary.counts == {"GO": 2, "NG": 2, "inbox": 2}
    assert _read(root / "良品" / "go_0000.jpg").shape == (64, 64, 3)
    assert len(list((root / "不良").glob("ng_*.jpg"))) == 2


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_defect_is_visible_and_local(defect: str, seed: int) -> None:
    size = 80
    go = render_part(np.random.default_rng(seed), None, size).astype(np.float32)
    ng = render_part(np.random.default_rng(seed), defect, size).astype(np.float32)
    diff = np.abs(go - ng).mean(axis=2)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(xx, yy) / size
    hub = radius < 0.2  # hub + label, with room for pose jitter
    blades = (radius > 0.25) & (radius < 0.4)
    if defect == "broken_blade":
        assert diff[blades].mean() > 10.0  # most of a blade is gone
        assert diff[radius < 0.1].mean() < 0.5  # the label is untouched
    else:
        assert diff[hub].mean() > 10.0
        assert diff[radius > 0.35].max() < 2.0  # blades and housing untouched
    assert diff[radius > 0.5].max() < 2.0  # the corners, outside the fan, are untouched
    # a clearly changed patch that spans many pixels at the app's default 80 x 80 input, not just noise ...
    assert (diff > 15).sum() >= 150
    # ... but a local one: not a change of the whole image
    assert (diff > 15).mean() < 0.15
    assert abs(go.mean() - ng.mean()) < 20.0


def test_mean_brightness_alone_does_not_separate_go_from_ng() -> None:
    """The demo must be a real inspection problem: no single brightness threshold sorts GO from NG."""
    size = 64
    go = [render_part(np.random.default_rng([5, 0, i]), None, size).mean() for i in range(60)]
    ng = [render_part(np.random.default_rng([5, 1, i]), DEFECTS[i % len(DEFECTS)], size).mean() for i in range(60)]
    values, truth = np.array(go + ng), np.array([0] * len(go) + [1] * len(ng))
    best = max(max(np.mean((values > t) == truth), np.mean((values <= t) == truth)) for t in values)
    assert best < 0.7


def test_parts_vary() -> None:
    rng = np.random.default_rng(0)
    parts = [render_part(rng, None, 64).astype(np.int16) for _ in range(5)]
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            assert np.abs(parts[i] - parts[j]).mean() > 1.0


def test_render_part_rejects_unknown_defect() -> None:
    with pytest.raises(ValueError):
        render_part(np.random.default_rng(0), "scratched")


def test_write_demo_video(tmp_path: Path) -> None:
    path = tmp_path / "demo.avi"
    truth = write_demo_video(path, parts=4, frames_per_part=3, seed=2)
    assert len(truth) == 4 and all(t is None or t in DEFECTS for t in truth)
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (480, 640, 3)
        frames += 1
    cap.release()
    assert frames == 4 * 3
