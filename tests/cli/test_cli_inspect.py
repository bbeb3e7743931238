"""`fanqc inspect`: the headless station on a demo video and an image folder, its JSON, and its errors."""
from __future__ import annotations

import json
import shutil

import cv2
import pytest
from station_helpers import PART_ROI, demo_video, store_with_active_model, video_frames

from fanqc_gui.cli import main
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.station_settings import Roi, StationSettings, save_station_settings
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
ROI = ",".join(map(str, PART_ROI))


@pytest.fixture
def env(tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return tmp_path / "ws", store


def run_json(capsys, *argv) -> tuple[int, dict, str]:
    code = main(["inspect", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_inspect_a_video_prints_the_summary_and_logs_every_verdict(capsys, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    code, doc, err = run_json(capsys, "--source", str(path), "--roi", ROI, "--workspace", str(ws),
                              "--models", str(store.root))
    assert code == 0
    assert {"frames", "go", "ng", "fps", "latency_p50_ms", "latency_p99_ms"} <= set(doc)
    assert doc["frames"] == 48 and doc["go"] + doc["ng"] == 48 and doc["fps"] > 0
    assert 0 < doc["latency_p50_ms"] <= doc["latency_p99_ms"]
    assert doc["model"] == store.active_id() and doc["backend"] == "litert-int8"
    assert doc["stopped_by"] == "end of source"
    assert doc["roi"] == list(PART_ROI) and doc["dropped_frames"] == 0 and doc["live"] is False
    assert [e["state"] for e in doc["source_events"]] == ["connecting", "running", "ended"]
    log = InspectionLog.for_workspace(ws)
    assert log.counts(run_id=doc["run_id"]) == {"total": 48, "go": doc["go"], "ng": doc["ng"]}
    assert doc["captures_saved"] == len(log.recent(100, run_id=doc["run_id"], with_image=True)) > 0
    log.close()
    assert "judging" in err and "source ended" in err  # progress on stderr, one JSON doc on stdout


def test_frame_limit_and_the_saved_station_roi(capsys, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    save_station_settings(StationSettings(name="line-9", roi=Roi(*PART_ROI), workspace=str(ws)))
    code, doc, _ = run_json(capsys, "--source", str(path), "--frames", "10", "--station", "line-9",
                            "--models", str(store.root), "--no-captures")
    assert code == 0 and doc["frames"] == 10 and doc["stopped_by"] == "frame limit"
    assert doc["roi"] == list(PART_ROI) and doc["workspace"] == str(ws) and doc["captures_saved"] == 0


def test_an_image_folder_is_a_recorded_source(capsys, env, tmp_path_factory, tmp_path):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    folder = tmp_path / "shots"
    folder.mkdir()
    roi = Roi(*PART_ROI)
    for i, frame in enumerate(video_frames(path)[:12]):
        cv2.imwrite(str(folder / f"part_{i:03d}.png"), roi.crop(frame))
    code, doc, _ = run_json(capsys, "--source", str(folder), "--workspace", str(ws), "--models", str(store.root),
                            "--roi", "full")
    assert code == 0 and doc["frames"] == 12 and doc["source_kind"] == "folder" and doc["roi"] is None
    # the crops saved as files are judged like the same crops from the video
    code, video_doc, _ = run_json(capsys, "--source", str(path), "--frames", "12", "--roi", ROI,
                                  "--workspace", str(ws), "--models", str(store.root))
    assert (doc["go"], doc["ng"]) == (video_doc["go"], video_doc["ng"])


def test_loop_replays_a_recording_up_to_the_frame_limit(capsys, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    code, doc, _ = run_json(capsys, "--source", str(path), "--loop", "--frames", "300", "--roi", ROI,
                            "--workspace", str(ws), "--models", str(store.root), "--no-captures")
    assert code == 0 and doc["frames"] == 300 and doc["stopped_by"] == "frame limit"


@pytest.mark.parametrize("argv, message", [
    (["--source", "93"], "no camera at index 93: check that it is connected"),
    (["--source", "/no/such/video.avi"], "source not found: /no/such/video.avi"),
    (["--source", "0", "--roi", "1,2,3"], "ROI '1,2,3' must be four whole numbers"),
    (["--source", "0", "--frames", "0"], "--frames must be at least 1"),
    (["--source", "0", "--model", "nope"], "no model 'nope'"),
])
def test_user_errors_are_one_clear_line(capsys, env, argv, message):
    ws, store = env
    code = main(["inspect", *argv, "--workspace", str(ws), "--models", str(store.root)])
    err = capsys.readouterr().err
    assert code == 2 and f"fanqc: error: {message}" in err and "Traceback" not in err


def test_no_active_model_says_how_to_get_one(capsys, env):
    ws, store = env
    (store.root / "active.json").unlink()
    code = main(["inspect", "--source", "0", "--workspace", str(ws), "--models", str(store.root), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and json.loads(out)["error"].startswith("no active model")
    assert "fanqc models activate" in err
