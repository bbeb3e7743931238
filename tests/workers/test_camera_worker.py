"""The camera worker in its QThread: verdicts and frames as signals, drops under a slow model, source loss
and reconnection, triggers, model changes, operator commands, and a clean stop."""
from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from station_helpers import PART_ROI, FakeCamera, demo_video, slow_factory, store_with_active_model, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.frame_grabber import Backoff
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.workers import camera_worker as cw
from fanqc_gui.workers.camera_worker import CameraSession, CameraWorker

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
SETTINGS = StationSettings(roi=Roi(*PART_ROI), capture=CaptureRules(max_per_minute=100_000, min_free_mb=0))


@pytest.fixture
def env(tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws"), store


class Recorder:
    def __init__(self, worker: CameraWorker):
        self.frames, self.verdicts, self.states, self.models, self.stats = [], [], [], [], []
        self.failures, self.inbox = [], []
        worker.frame_ready.connect(self.frames.append)
        worker.verdict_ready.connect(self.verdicts.append)
        worker.source_state_changed.connect(self.states.append)
        worker.model_changed.connect(self.models.append)
        worker.stats_updated.connect(self.stats.append)
        worker.failed.connect(self.failures.append)
        worker.sent_to_inbox.connect(self.inbox.append)


_running: list[CameraSession] = []


@pytest.fixture(autouse=True)
def stop_sessions():
    """A failing test must not leave its camera thread running."""
    yield
    while _running:
        assert _running.pop().stop()


def start(qtbot, worker):
    session = CameraSession(worker)
    rec = Recorder(worker)
    session.start()
    _running.append(session)
    return session, rec


def test_a_recording_is_judged_and_logged_with_matching_counters(qtbot, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec.parse(str(path)))
    session, rec = start(qtbot, worker)
    with qtbot.waitSignal(worker.finished, timeout=20_000):
        pass
    assert session.stop()
    assert rec.states[0].state == "connecting" and rec.states[-1].state == "ended"
    assert rec.models[0].id == store.active_id() and rec.models[0].backend == "litert-int8"
    assert rec.verdicts and isinstance(rec.frames[0], np.ndarray) and rec.frames[0].shape == (480, 640, 3)
    final = rec.stats[-1].counters
    log = InspectionLog.for_workspace(ws.root)
    counts = log.counts(run_id=worker.station.run_id)
    assert final.inspected == counts["total"] == 48 and (final.go, final.ng) == (counts["go"], counts["ng"])
    assert rec.verdicts[-1].frame_index == 47  # the last verdict always reaches the page
    log.close()


def test_live_frames_are_dropped_not_queued_under_a_slow_model(qtbot, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    camera = FakeCamera.factory(video_frames(path), fps=200.0)
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec("camera", "0"), capture_factory=camera,
                          predictor_factory=slow_factory(0.05))
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: len(rec.verdicts) >= 8, timeout=10_000)
    assert session.stop()
    indexes = [v.frame_index for v in rec.verdicts]
    assert np.diff(indexes).min() >= 1 and np.diff(indexes).mean() > 4  # ~10 frames pass per 50 ms verdict
    log = InspectionLog.for_workspace(ws.root)
    rows = log.recent(1000, run_id=worker.station.run_id)
    judged, served = len(rows), FakeCamera.instances[-1].served
    assert served > 4 * judged  # most frames were never judged: no backlog builds up
    assert max(r.latency_ms for r in rows) < 200
    log.close()


def test_a_lost_camera_is_shown_and_reconnected(qtbot, env, tmp_path_factory, monkeypatch):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    plugged = threading.Event()
    plugged.set()
    monkeypatch.setattr(cw, "FrameGrabber", _fast_backoff_grabber())
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(video_frames(path), fps=100.0, plugged=plugged))
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: len(rec.verdicts) >= 3, timeout=10_000)
    plugged.clear()
    qtbot.waitUntil(lambda: any(s.state == "reconnecting" for s in rec.states), timeout=5_000)
    lost = next(s for s in rec.states if s.state == "reconnecting")
    assert "lost the picture" in lost.message and "camera 0" in cw.status_text(lost)
    before = len(rec.verdicts)
    plugged.set()
    qtbot.waitUntil(lambda: rec.states[-1].state == "running" and len(rec.verdicts) > before + 3, timeout=10_000)
    assert session.stop()
    assert not rec.failures


def test_no_camera_at_all_is_reported_and_retried_not_a_crash(qtbot, env, monkeypatch):
    ws, store = env
    monkeypatch.setattr(cw, "FrameGrabber", _fast_backoff_grabber())
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec("camera", "96"))
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: sum(s.state == "reconnecting" for s in rec.states) >= 2, timeout=5_000)
    assert "no camera at index 96" in rec.states[-1].message
    assert session.stop()
    assert not rec.verdicts and not rec.failures


def test_triggered_mode_judges_once_per_trigger(qtbot, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    worker = CameraWorker(ws, store, SETTINGS.with_changes(mode="triggered"), SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(video_frames(path), fps=100.0))
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: len(rec.frames) >= 5, timeout=10_000)
    assert rec.verdicts == []
    for n in (1, 2, 3):
        worker.trigger()
        qtbot.waitUntil(lambda n=n: len(rec.verdicts) == n, timeout=5_000)
    qtbot.wait(150)
    assert len(rec.verdicts) == 3
    log = InspectionLog.for_workspace(ws.root)  # the rows are committed while the station waits
    qtbot.waitUntil(lambda: log.counts()["total"] == 3, timeout=3_000)
    log.close()
    worker.send_current_to_inbox()
    qtbot.waitUntil(lambda: bool(rec.inbox), timeout=5_000)
    assert session.stop()
    assert worker.station.counters.inspected == 3
    assert [p.name for p in ws.inbox_dir.iterdir() if p.name.startswith("station_")] == \
        [rec.inbox[0].rsplit("/", 1)[-1]]


def test_a_new_threshold_reaches_the_running_station(qtbot, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec.parse(str(path)), realtime=True, loop=True)
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: len(rec.verdicts) >= 2, timeout=10_000)
    store.update_metadata(store.active_id(), threshold=0.0)
    with qtbot.waitSignal(worker.model_changed, timeout=5_000,
                          check_params_cb=lambda m: m.threshold == 0.0) as blocker:
        pass
    assert blocker.args[0].id == store.active_id()
    seen = len(rec.verdicts)
    qtbot.waitUntil(lambda: len(rec.verdicts) >= seen + 3, timeout=10_000)
    assert all(v.verdict == "NG" and v.threshold == 0.0 for v in rec.verdicts[seen + 1:])
    assert session.stop()


def test_no_model_fails_with_the_reason(qtbot, env):
    ws, store = env
    (store.root / "active.json").unlink()
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec("camera", "0"))
    session, rec = start(qtbot, worker)
    with qtbot.waitSignal(worker.finished, timeout=5_000):
        pass
    assert session.stop()
    assert rec.failures and rec.failures[0].startswith("no active model")


def test_pause_stops_judging_and_stop_is_prompt(qtbot, env, tmp_path_factory):
    ws, store = env
    path, _ = demo_video(tmp_path_factory)
    worker = CameraWorker(ws, store, SETTINGS, SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(video_frames(path), fps=100.0))
    session, rec = start(qtbot, worker)
    qtbot.waitUntil(lambda: len(rec.verdicts) >= 2, timeout=10_000)
    worker.set_paused(True)
    qtbot.wait(100)
    paused_at = worker.station.counters.inspected
    qtbot.wait(200)
    assert worker.station.counters.inspected == paused_at
    worker.set_paused(False)
    qtbot.waitUntil(lambda: worker.station.counters.inspected > paused_at + 2, timeout=5_000)
    assert session.stop(wait_ms=2000) and not session.is_running()


def _fast_backoff_grabber():
    from fanqc_gui.core.station.frame_grabber import FrameGrabber

    class FastBackoffGrabber(FrameGrabber):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, backoff=Backoff(initial=0.02, maximum=0.1), **kwargs)

    return FastBackoffGrabber


def test_an_image_folder_is_paced_one_verdict_per_image_shown(qtbot, demo_workspace_template, tmp_path,
                                                                tmp_path_factory):
    """The GUI shows a folder to a person: each image judged and shown, one every folder_interval_s."""
    import time

    import cv2

    from fanqc_gui.core.models.demo_model import install_demo_model
    from fanqc_gui.core.models.model_store import ModelStore

    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    folder = tmp_path / "shots"
    folder.mkdir()
    for i, frame in enumerate(video_frames(demo_video(tmp_path_factory)[0])[:4]):
        cv2.imwrite(str(folder / f"part_{i}.png"), frame)
    worker = CameraWorker(open_workspace(tmp_path / "ws"), store, SETTINGS, SourceSpec.parse(str(folder)),
                          folder_interval_s=0.3)
    arrivals = []
    worker.verdict_ready.connect(lambda v: arrivals.append((v.frame_index, time.monotonic())))
    session, rec = start(qtbot, worker)
    with qtbot.waitSignal(worker.finished, timeout=20_000):
        pass
    assert session.stop()
    assert [i for i, _ in arrivals] == [0, 1, 2, 3]  # every image judged and shown, none merged or dropped
    gaps = np.diff([t for _, t in arrivals])
    assert gaps.min() >= 0.3 * 0.7
    assert rec.states[-1].state == "ended" and rec.states[-1].message == "end of the folder"
