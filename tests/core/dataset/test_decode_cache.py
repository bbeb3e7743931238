"""The decode cache: each image decoded once, and training sees exactly what `preprocess` gives."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from fanqc_gui.core.dataset import decode_cache
from fanqc_gui.core.dataset.decode_cache import CACHE_DIR, DecodeCache
from fanqc_gui.core.dataset.scan import scan_workspace, split_stratified
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.imaging import PreprocessSpec, decode_image, load_for_model, preprocess, to_model_input
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training.trainer import TrainOptions, prepare_data


@pytest.fixture
def decode_counter(monkeypatch):
    """Counts the files the cache actually decodes."""
    decoded = []

    real = decode_cache._pixels

    def counting_decode(spec, path, data=None):
        decoded.append(path.name)
        return real(spec, path, data)

    monkeypatch.setattr(decode_cache, "_pixels", counting_decode)
    return decoded


def _add_images(folder, n, seed):
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        name = f"added_{seed}_{i}.jpg"
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
        names.append(name)
    return names


def test_retrain_after_adding_images_decodes_only_the_new_ones(demo_workspace, decode_counter):
    ws = open_workspace(demo_workspace)
    options = TrainOptions(image_size=32)
    first = prepare_data(ws, options)
    assert len(decode_counter) == 48
    assert (demo_workspace / CACHE_DIR).is_dir()
    decode_counter.clear()
    added = _add_images(ws.ng_dir, 2, seed=1) + _add_images(ws.go_dir, 1, seed=2)
    second = prepare_data(ws, options)
    assert sorted(decode_counter) == sorted(added)
    assert len(second.y_train) + len(second.y_val) == len(first.y_train) + len(first.y_val) + 3


def test_unchanged_workspace_decodes_nothing_and_other_size_decodes_again(demo_workspace, decode_counter):
    ws = open_workspace(demo_workspace)
    prepare_data(ws, TrainOptions(image_size=32))
    decode_counter.clear()
    prepare_data(ws, TrainOptions(image_size=32))
    assert decode_counter == []
    prepare_data(ws, TrainOptions(image_size=40))  # another input size needs other pixels
    assert len(decode_counter) == 48


def test_relabelling_or_renaming_an_image_keeps_its_cache_entry(demo_workspace, decode_counter):
    ws = open_workspace(demo_workspace)
    prepare_data(ws, TrainOptions(image_size=32))
    decode_counter.clear()
    moved = sorted(ws.go_dir.iterdir())[0]
    shutil.move(str(moved), ws.ng_dir / "was_go_really_ng.jpg")
    sorted(ws.ng_dir.iterdir())[0].rename(ws.ng_dir / "renamed.jpg")
    data = prepare_data(ws, TrainOptions(image_size=32))
    assert decode_counter == []
    assert int(data.y_train.sum() + data.y_val.sum()) == 25  # the moved image now counts as NG


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_cache_file_only_costs_a_redecode(demo_workspace, decode_counter, damage):
    ws = open_workspace(demo_workspace)
    prepare_data(ws, TrainOptions(image_size=32))
    for f in (demo_workspace / CACHE_DIR).iterdir():
        data = f.read_bytes()
        f.write_bytes(b"garbage" if damage == "garbage" else data[: len(data) // 2])  # e.g. a full disk
    decode_counter.clear()
    data = prepare_data(ws, TrainOptions(image_size=32))
    assert len(decode_counter) == 48 and len(data.y_train) + len(data.y_val) == 48


def test_cached_pixels_equal_preprocess_of_the_file(demo_workspace):
    ws = open_workspace(demo_workspace)
    spec = PreprocessSpec(width=32, height=32)
    records = scan_workspace(ws).images[:10]
    pixels, labels, problems = DecodeCache(spec).load(records)
    assert problems == [] and pixels.dtype == np.uint8
    for rec, px, label in zip(records, pixels, labels):
        assert label == rec.label
        assert np.array_equal(to_model_input(px), load_for_model(rec.path, spec))


@pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")
def test_training_pipeline_float_input_equals_preprocess_bit_for_bit(demo_workspace):
    """What the network is trained on == what `preprocess` gives the station camera for the same picture."""
    from fanqc_gui.core.training.training_loop import model_input

    ws = open_workspace(demo_workspace)
    options = TrainOptions(image_size=32, seed=5)
    data = prepare_data(ws, options)
    fed = model_input(data.x_val).numpy()
    val_records = split_stratified(scan_workspace(ws).images, options.val_split, options.seed).val
    expected = np.stack([preprocess(decode_image(r.path), options.spec()) for r in val_records])
    assert fed.dtype == np.float32 and fed.shape == expected.shape == (10, 32, 32, 3)
    assert np.array_equal(fed, expected)
    # The camera path: the same bytes decoded by OpenCV as a frame.
    frames = [cv2.imdecode(np.fromfile(r.path, np.uint8), cv2.IMREAD_COLOR) for r in val_records]
    assert np.array_equal(fed, np.stack([preprocess(f, options.spec()) for f in frames]))
