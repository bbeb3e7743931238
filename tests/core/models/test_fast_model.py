"""The station's fast (int8-weight) model: used only where it is proven to give the float model's verdicts."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.demo_model import install_demo_model
from fanqc_gui.core.models.fast_model import (
    FAST_TFLITE_FILE,
    MAX_ABS_DIFF,
    agreement,
    fast_model_usable,
    flip_intervals,
)
from fanqc_gui.core.models.inference import Predictor, expand_paths
from fanqc_gui.core.models.model_store import ModelStore


def test_flip_intervals_are_the_thresholds_where_a_verdict_would_differ():
    ref = np.array([0.10, 0.50, 0.90, 0.30])
    fast = np.array([0.10, 0.52, 0.88, 0.31])
    intervals = flip_intervals(ref, fast)  # each widened by 1e-4 for other CPUs' rounding
    flat = [v for pair in intervals for v in pair]
    assert flat == pytest.approx([0.2999, 0.3101, 0.4999, 0.5201, 0.8799, 0.9001], abs=1e-6)
    for t in np.linspace(0.0, 1.0, 2001):
        if np.any((ref >= t) != (fast >= t)):
            assert any(lo < t <= hi for lo, hi in intervals), t
        if not any(lo - 2e-4 < t <= hi + 2e-4 for lo, hi in intervals):
            assert not np.any((ref >= t) != (fast >= t))


def test_usable_only_close_to_the_float_model_and_off_the_flip_intervals():
    ref = np.array([0.05, 0.45, 0.95])
    report = agreement(ref, ref + np.array([0.001, 0.01, -0.002]), threshold=0.3)
    meta = {"fast_tflite": report}
    assert report["usable"] and report["verdict_flips_at_threshold"] == 0
    assert fast_model_usable(meta, 0.3) and fast_model_usable(meta, 0.5)
    assert not fast_model_usable(meta, 0.455)  # the second image would change sides
    far = agreement(ref, ref + MAX_ABS_DIFF * 2, threshold=0.3)
    assert not far["usable"] and not fast_model_usable({"fast_tflite": far}, 0.3)
    assert not fast_model_usable({}, 0.3)


@pytest.fixture
def demo_store(tmp_path):
    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    return store


def test_the_station_backend_judges_like_the_float_model(demo_store, tmp_path):
    info = demo_store.active()
    assert (info.folder / FAST_TFLITE_FILE).is_file() and info.metadata["fast_tflite"]["usable"]
    fast = Predictor(info, backend="station", num_threads=1)
    exact = Predictor(info, backend="litert", num_threads=1)
    assert (fast.backend_name, exact.backend_name) == ("litert-int8", "litert")
    ws = generate_demo_workspace(tmp_path / "ws", per_class=30, inbox=0, seed=5).root
    paths = expand_paths([ws / "GO", ws / "NG"])
    p_fast = np.array([p.p_ng for p in fast.predict_paths(paths)])
    p_exact = np.array([p.p_ng for p in exact.predict_paths(paths)])
    assert np.max(np.abs(p_fast - p_exact)) <= MAX_ABS_DIFF
    assert [v for v in p_fast >= info.threshold] == [v for v in p_exact >= info.threshold]


def test_a_threshold_inside_a_flip_interval_falls_back_to_the_float_model(demo_store):
    info = demo_store.active()
    lo, hi = info.metadata["fast_tflite"]["flip_intervals"][0]
    moved = demo_store.update_metadata(info.id, threshold=(lo + hi) / 2)
    assert Predictor(moved, backend="station").backend_name == "litert"
    assert Predictor(demo_store.update_metadata(info.id, threshold=info.threshold),
                     backend="station").backend_name == "litert-int8"


def test_a_damaged_fast_file_falls_back_to_the_float_model(demo_store):
    info = demo_store.active()
    (info.folder / FAST_TFLITE_FILE).write_bytes(b"not a flatbuffer")
    assert Predictor(info, backend="station").backend_name == "litert"


def test_a_model_without_the_fast_file_or_its_proof_uses_the_float_model(demo_store, tmp_path):
    info = demo_store.active()
    (info.folder / FAST_TFLITE_FILE).unlink()
    assert Predictor(info, backend="station").backend_name == "litert"
    copy = tmp_path / "other"
    shutil.copytree(demo_store.root / info.id, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta.pop("fast_tflite")
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert Predictor(ModelStore(tmp_path).get(copy), backend="station").backend_name == "litert"


def test_a_camera_frame_is_judged_the_same_by_both(demo_store, tmp_path):
    info = demo_store.active()
    ws = generate_demo_workspace(tmp_path / "ws", per_class=4, inbox=0, seed=9).root
    frame = decode_image(next(iter(expand_paths([ws / "NG"]))))
    p_fast = Predictor(info, backend="station").predict_frame(frame)
    p_exact = Predictor(info, backend="litert").predict_frame(frame)
    assert abs(p_fast - p_exact) <= MAX_ABS_DIFF and (p_fast >= info.threshold) == (p_exact >= info.threshold)


def test_the_station_uses_the_fast_model_and_leaves_it_when_a_new_threshold_needs_it(demo_store, tmp_path):
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.station.camera_sources import Frame
    from fanqc_gui.core.station.pipeline import Station
    from fanqc_gui.core.station.station_settings import CaptureRules, StationSettings

    ws = generate_demo_workspace(tmp_path / "ws", per_class=2, inbox=0, seed=9).root
    image = decode_image(next(iter(expand_paths([ws / "GO"]))))
    station = Station(open_workspace(ws), demo_store, StationSettings(capture=CaptureRules(save_ng=False,
                                                                                           go_fraction=0.0)),
                      model_poll_s=0.0)
    assert station.model_summary().backend == "litert-int8"
    station.process(Frame(image, 0, 0.0, 0.0))
    info = demo_store.active()
    lo, hi = info.metadata["fast_tflite"]["flip_intervals"][-1]
    demo_store.update_metadata(info.id, threshold=(lo + hi) / 2)  # a supervisor saves a new threshold
    station.process(Frame(image, 1, 0.0, 0.0))
    assert station.model_summary().backend == "litert"
    assert station.predictor.threshold == pytest.approx((lo + hi) / 2)
    station.close()
