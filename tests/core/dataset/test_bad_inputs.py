"""A workspace full of awkward files: every one is reported or used, nothing crashes, no file is touched."""
from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fanqc_gui.core.dataset.scan import DatasetError, scan_workspace
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")

UNUSABLE_AT_SCAN = {  # file -> words the reason must contain
    "GO/empty.jpg": "empty file",
    "GO/notes.jpg": "not an image",
    "GO/truncated.jpg": "truncated JPEG",
    "GO/huge.png": "too large",
}
UNDECODABLE = {"NG/corrupt.png": "cannot decode"}  # passes the cheap checks, fails when decoded
ODD_BUT_USABLE = ["NG/deep16.png", "NG/rgba.png", "GO/grey.png", "NG/cmyk.jpg", "NG/不良品_é.png"]


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


def make_bad_input_workspace(root: Path, template: Path) -> Path:
    """8 good demo images per class plus one of every awkward kind of file."""
    for cls in ("GO", "NG", "inbox"):
        (root / cls).mkdir(parents=True)
        for src in sorted((template / cls).iterdir())[:8]:
            shutil.copy2(src, root / cls / src.name)
    rng = np.random.default_rng(0)
    good_jpeg = cv2.imencode(".jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))[1].tobytes()
    png = cv2.imencode(".png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))[1].tobytes()
    (root / "GO/empty.jpg").write_bytes(b"")
    (root / "GO/notes.jpg").write_text("line 3 stopped at 14:02\n", encoding="utf-8")
    (root / "GO/truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (root / "GO/huge.png").write_bytes(_png_header_only(20000, 20000))
    (root / "NG/corrupt.png").write_bytes(png[:40] + bytes(400))
    deep = rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    (root / "NG/deep16.png").write_bytes(cv2.imencode(".png", deep)[1].tobytes())
    rgba = np.dstack([rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), np.full((64, 64), 90, np.uint8)])
    (root / "NG/rgba.png").write_bytes(cv2.imencode(".png", rgba)[1].tobytes())
    grey_pixels = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    (root / "GO/grey.png").write_bytes(cv2.imencode(".png", grey_pixels)[1].tobytes())
    buf = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(buf, "JPEG")
    (root / "NG/cmyk.jpg").write_bytes(buf.getvalue())
    (root / "NG/不良品_é.png").write_bytes(png)
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file except FanQC's own cache folder."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and ".fanqc" not in p.parts}


@pytest.fixture
def bad_workspace(tmp_path, demo_workspace_template):
    return make_bad_input_workspace(tmp_path / "ws", demo_workspace_template)


def test_scan_reports_every_unusable_file_with_its_reason(bad_workspace):
    before = snapshot(bad_workspace)
    report = scan_workspace(open_workspace(bad_workspace))
    reasons = {str(p.path.relative_to(bad_workspace)): p.reason for p in report.problems}
    assert set(reasons) == set(UNUSABLE_AT_SCAN)
    for name, words in UNUSABLE_AT_SCAN.items():
        assert words in reasons[name], f"{name}: {reasons[name]!r}"
    listed = {str(r.path.relative_to(bad_workspace)) for r in report.images}
    assert set(ODD_BUT_USABLE) <= listed
    assert report.counts == {"GO": 8 + 1, "NG": 8 + 5, "inbox": 8}
    assert report.to_dict()["problems"][0]["reason"]
    assert snapshot(bad_workspace) == before


@pytest.mark.parametrize("name", ODD_BUT_USABLE)
def test_odd_but_valid_files_decode_to_bgr_uint8(bad_workspace, name):
    img = decode_image(bad_workspace / name)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[:2] == (64, 64)
    assert 0 < img.mean() < 255


def test_empty_class_folder_fails_training_with_a_clear_message(tmp_path, demo_workspace_template):
    from fanqc_gui.core.training.trainer import TrainOptions, prepare_data

    root = make_bad_input_workspace(tmp_path / "ws", demo_workspace_template)
    for p in (root / "NG").iterdir():
        p.unlink()
    before = snapshot(root)
    with pytest.raises(DatasetError, match=r"class NG has 0 usable image\(s\)"):
        prepare_data(open_workspace(root), TrainOptions(preset="reference", image_size=32))
    assert snapshot(root) == before


@needs_tf
@pytest.mark.slow
def test_single_class_workspace_fails_training_and_saves_nothing(tmp_path, demo_workspace_template):
    from fanqc_gui.core.training.trainer import TrainOptions, train

    root = make_bad_input_workspace(tmp_path / "ws", demo_workspace_template)
    shutil.rmtree(root / "NG")
    before = snapshot(root)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DatasetError, match="class NG has 0"):
        train(open_workspace(root), store, TrainOptions(preset="reference", image_size=32, epochs=1))
    assert store.list() == []
    assert snapshot(root) == before


@pytest.fixture(scope="module")
def trained_on_bad_inputs(tmp_path_factory, demo_workspace_template):
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    from fanqc_gui.core.training.trainer import TrainOptions, train

    base = tmp_path_factory.mktemp("bad-inputs")
    root = make_bad_input_workspace(base / "ws", demo_workspace_template)
    before = snapshot(root)
    result = train(open_workspace(root), ModelStore(base / "models"), TrainOptions(preset="reference",
                                                                                   image_size=32, epochs=2))
    return root, before, result


@pytest.mark.slow
def test_training_skips_and_reports_unusable_files_without_touching_any(trained_on_bad_inputs):
    root, before, result = trained_on_bad_inputs
    assert result.model is not None
    skipped = {str(p.path.relative_to(root)): p.reason for p in result.problems}
    expected = {**UNUSABLE_AT_SCAN, **UNDECODABLE}
    assert set(skipped) == set(expected)
    for name, words in expected.items():
        assert words in skipped[name]
    assert result.model.metadata["dataset"]["skipped_files"] == len(expected)
    counts = result.model.metadata["dataset"]["counts"]
    assert counts["train"]["GO"] + counts["val"]["GO"] == 9
    assert counts["train"]["NG"] + counts["val"]["NG"] == 12  # 13 listed, corrupt.png fails to decode
    assert [s["path"] for s in result.to_dict()["skipped_files"]]
    assert snapshot(root) == before


@pytest.mark.slow
def test_prediction_on_every_file_reports_errors_in_order_without_touching_any(trained_on_bad_inputs):
    from fanqc_gui.core.models.inference import Predictor

    root, before, result = trained_on_bad_inputs
    files = sorted(p for p in root.rglob("*") if p.is_file() and ".fanqc" not in p.parts)
    preds = Predictor(result.model).predict_paths(files, batch_size=7)
    assert [p.path for p in preds] == [str(f) for f in files]
    failed = {str(Path(p.path).relative_to(root)) for p in preds if p.error}
    assert failed == set(UNUSABLE_AT_SCAN) | set(UNDECODABLE)
    for p in preds:
        if p.error:
            assert p.p_ng is None and p.verdict is None
        else:
            assert 0.0 <= p.p_ng <= 1.0 and p.verdict in ("GO", "NG")
    assert snapshot(root) == before
