"""The station pipeline on a generated video of demo parts with a really trained model: verdicts, log rows,
captures, the inbox, and model / threshold changes between two frames."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from station_helpers import PART_ROI, demo_video, set_threshold, store_with_active_model

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.station.camera_sources import SourceSpec, open_source
from fanqc_gui.core.station.frame_grabber import ENDED, FrameGrabber
from fanqc_gui.core.station.pipeline import Station, StationError
from fanqc_gui.core.station.station_runner import run_station
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
ALL_NG = CaptureRules(save_ng=True, go_fraction=0.0, max_per_minute=100_000, min_free_mb=0)


@pytest.fixture
def env(tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws"), store


def run_video(station, path, **grabber_kwargs):
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))), **grabber_kwargs)
    grabber.start()
    return run_station(station, grabber)


def test_verdicts_match_the_engine_on_the_same_crops(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    roi = Roi(*PART_ROI)
    station = Station(ws, store, StationSettings(roi=roi, capture=ALL_NG), source="demo", num_threads=1)
    frames = []
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    verdicts = []
    while (item := grabber.get(timeout=2.0)) is not ENDED and item is not None:
        frames.append(item.image)
        verdicts.append(station.process(item))
    grabber.stop()
    station.close()
    # The station judges with the model's verified int8 variant; the engine's "station" backend is the same.
    assert station.model_summary().backend == "litert-int8"
    engine = Predictor(store.active(), backend="station", num_threads=1)
    expected = [engine.predict_frame(roi.crop(f)) for f in frames]
    assert len(verdicts) == len(frames) == 48
    assert [v.p_ng for v in verdicts] == pytest.approx(expected, abs=1e-6)
    assert [v.verdict for v in verdicts] == [engine.verdict(p) for p in expected]
    assert {v.verdict for v in verdicts} == {"GO", "NG"}  # the demo video has both kinds of parts


def test_log_rows_captures_and_counters_agree(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    station = Station(ws, store, StationSettings(name="line-2", roi=Roi(*PART_ROI), capture=ALL_NG),
                      source="conveyor.avi")
    summary = run_video(station, path)
    rows = station.log.recent(1000, run_id=station.run_id)[::-1]
    c = station.counters
    assert summary.frames == c.inspected == len(rows) == 48 and c.go + c.ng == 48
    assert station.log.counts(run_id=station.run_id) == {"total": 48, "go": c.go, "ng": c.ng}
    info = store.active()
    for i, row in enumerate(rows):
        assert (row.frame_index, row.station, row.source, row.model_id) == (i, "line-2", "conveyor.avi", info.id)
        assert row.threshold == pytest.approx(info.threshold) and row.roi == "220,140,200,200"
        assert row.verdict == ("NG" if row.p_ng >= info.threshold else "GO")
        assert (row.image_path is not None) == (row.verdict == "NG")  # every NG saved, no GO
        assert row.latency_ms > 0
    saved = [ws.root / r.image_path for r in rows if r.image_path]
    assert len(saved) == c.ng == station.captures.stats.saved
    assert all(p.is_file() and p.parent.parent == ws.captures_dir for p in saved)
    assert decode_image(saved[0]).shape == (200, 200, 3)  # the crop the model saw
    station.close()


def test_capture_rules_rate_limit_go_share_and_disk_guard(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    set_threshold(store, 1.0)  # every part GO (thresholds are in [0, 1]): the GO rules decide alone
    # 48 frames at 15 fps = 3.2 s of video: 60 a minute allows the burst of 5 and about 3 more
    limited = Station(ws, store, StationSettings(roi=Roi(*PART_ROI), capture=CaptureRules(
        save_ng=False, go_fraction=1.0, max_per_minute=60, min_free_mb=0)))
    run_video(limited, path)
    assert 6 <= limited.captures.stats.saved <= 9 and limited.captures.stats.skipped_rate > 0
    limited.close()
    share = Station(ws, store, StationSettings(roi=Roi(*PART_ROI), capture=CaptureRules(
        save_ng=False, go_fraction=0.5, max_per_minute=100_000, min_free_mb=0)))
    run_video(share, path)
    assert share.captures.stats.saved == 24 == share.counters.go // 2
    share.close()
    full = Station(ws, store, StationSettings(roi=Roi(*PART_ROI), capture=CaptureRules(
        save_ng=True, go_fraction=1.0, max_per_minute=100_000, min_free_mb=10**12)))
    run_video(full, path)
    assert full.captures.stats.saved == 0 and full.captures.stats.skipped_disk == 48
    assert "disk nearly full" in full.stats().capture_problem
    assert full.log.counts(run_id=full.run_id)["total"] == 48  # inspection goes on, only saving stops
    full.close()


def test_new_threshold_takes_effect_between_two_frames(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    set_threshold(store, 1.0)
    station = Station(ws, store, StationSettings(roi=Roi(*PART_ROI), capture=ALL_NG), model_poll_s=0.0)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    first = [station.process(grabber.get(timeout=2.0)) for _ in range(10)]
    set_threshold(store, 0.0)  # a supervisor saves a new threshold
    later = [station.process(grabber.get(timeout=2.0)) for _ in range(10)]
    grabber.stop()
    assert all(v.verdict == "GO" and v.threshold == 1.0 for v in first)
    assert all(v.verdict == "NG" and v.threshold == 0.0 for v in later)
    assert station.model_changes == 1
    rows = station.log.recent(20, run_id=station.run_id)[::-1]
    assert [r.threshold for r in rows] == [1.0] * 10 + [0.0] * 10
    station.close()


def test_activating_another_model_switches_and_is_logged(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    first_id = store.active_id()
    second = store.root / "second-model"
    shutil.copytree(store.root / first_id, second)
    meta = json.loads((second / "metadata.json").read_text())
    (second / "metadata.json").write_text(json.dumps({**meta, "id": "second-model", "threshold": 1.0}))
    station = Station(ws, store, StationSettings(roi=Roi(*PART_ROI)), model_poll_s=0.0)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    before = station.process(grabber.get(timeout=2.0))
    store.activate("second-model")
    after = station.process(grabber.get(timeout=2.0))
    grabber.stop()
    assert (before.model_id, after.model_id) == (first_id, "second-model")
    assert after.verdict == "GO" and after.threshold == 1.0
    assert [r.model_id for r in station.log.recent(2, run_id=station.run_id)] == ["second-model", first_id]
    station.close()


def test_a_broken_new_model_keeps_the_old_one_judging(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    first_id = store.active_id()
    broken = store.root / "broken"
    shutil.copytree(store.root / first_id, broken)
    (broken / "model.tflite").write_bytes(b"not a flatbuffer")
    (broken / "model.keras").unlink()
    station = Station(ws, store, StationSettings(), model_poll_s=0.0, backend="litert")
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    store.activate("broken")
    v = station.process(grabber.get(timeout=2.0))
    grabber.stop()
    assert v.model_id == first_id and "cannot load broken" in station.model_error
    assert station.model_summary().error == station.model_error
    station.close()


def test_no_active_model_is_a_clear_station_error(env, tmp_path):
    ws, store = env
    (store.root / "active.json").unlink()
    with pytest.raises(StationError, match="no active model .* activate one"):
        Station(ws, store)


def test_the_judged_crop_goes_to_the_inbox_losslessly(env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    station = Station(ws, store, StationSettings(roi=Roi(*PART_ROI)))
    with pytest.raises(StationError, match="no judged frame yet"):
        station.send_last_to_inbox()
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    frame = grabber.get(timeout=2.0)
    v = station.process(frame)
    grabber.stop()
    sent = station.send_last_to_inbox()
    assert sent.parent == ws.inbox_dir and sent.name.startswith(f"station_{v.verdict}_p")
    assert np.array_equal(decode_image(sent), Roi(*PART_ROI).crop(frame.image))
    snap = station.snapshot(frame.image)
    assert np.array_equal(decode_image(snap), frame.image) and snap.parent.name == "snapshots"
    station.close()


def test_roi_outside_the_frame_falls_back_to_what_is_inside(env, tmp_path_factory):
    ws, store = env
    station = Station(ws, store, StationSettings(roi=Roi(600, 400, 500, 500)))
    frame = np.zeros((480, 640, 3), np.uint8)
    assert station.effective_roi(frame) == Roi(600, 400, 40, 80)
    station.set_roi(Roi(700, 10, 20, 20))
    assert station.effective_roi(frame) == Roi(0, 0, 640, 480)
    station.close()
