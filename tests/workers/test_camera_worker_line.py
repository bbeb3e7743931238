"""The camera worker as a station on the line: an MQTT trigger through a real mosquitto judges a fresh frame and
the result goes back out; output status comes with the stats; a mode whose output is off is refused and the
mode that runs is reported; a trigger that gets no frame is answered ERROR; an anomaly model's map comes
drawn over the judged crop."""
from __future__ import annotations

import json
import shutil
import threading

import paho.mqtt.client as mqtt
import pytest
from line_io_helpers import Subscriber, broker  # noqa: F401 - the fixture
from station_anomaly_helpers import anomaly_store
from station_helpers import PART_ROI, FakeCamera, demo_video, store_with_active_model, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings, MqttSettings
from fanqc_gui.core.station.line_io.register_map import ERR_CAMERA_LOST
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.workers.camera_worker import CameraSession, CameraWorker

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
SETTINGS = StationSettings(name="line-w", roi=Roi(*PART_ROI), capture=CaptureRules(save_ng=False, go_fraction=0.0))


@pytest.fixture
def workspace(demo_workspace_template, tmp_path):
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def frames(tmp_path_factory):
    return video_frames(demo_video(tmp_path_factory)[0])


@pytest.fixture
def sessions():
    running: list[CameraSession] = []
    yield running
    while running:
        assert running.pop().stop()


def start(sessions, worker) -> dict:
    seen = {k: [] for k in ("verdicts", "outputs", "errors", "modes", "failed", "overlays", "refused")}
    worker.verdict_ready.connect(seen["verdicts"].append)
    worker.outputs_updated.connect(seen["outputs"].append)
    worker.error_answered.connect(seen["errors"].append)
    worker.mode_changed.connect(seen["modes"].append)
    worker.action_failed.connect(seen["refused"].append)
    worker.failed.connect(seen["failed"].append)
    worker.overlay_ready.connect(seen["overlays"].append)
    session = CameraSession(worker)
    session.start()
    sessions.append(session)
    return seen


def _mqtt_settings(port: int) -> StationSettings:
    line = LineIOSettings(mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=port, topic_prefix="t"))
    return SETTINGS.with_changes(mode="mqtt", line_io=line)


def test_mqtt_triggers_reach_the_worker_and_results_go_out(qtbot, broker, workspace, frames, sessions,  # noqa: F811
                                                          tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    sub = Subscriber(broker.port, ["t/line-w/result"])
    worker = CameraWorker(workspace, store, _mqtt_settings(broker.port), SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(frames, fps=60.0))
    seen = start(sessions, worker)
    qtbot.waitUntil(lambda: any(o and o[0].state == "connected" for o in seen["outputs"]), timeout=10_000)
    qtbot.wait(300)
    assert seen["verdicts"] == []  # nothing judged without a trigger
    mes = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mes-w")
    mes.connect("127.0.0.1", broker.port)
    mes.loop_start()
    try:
        mes.publish("t/line-w/trigger", json.dumps({"part_id": "W-1", "lot_id": "L-9", "id": 5}), qos=1)
        qtbot.waitUntil(lambda: len(seen["verdicts"]) == 1, timeout=5_000)
        qtbot.waitUntil(lambda: len(sub.on("t/line-w/result")) == 1, timeout=5_000)
    finally:
        mes.loop_stop()
        sub.close()
    v = seen["verdicts"][0]
    message = sub.on("t/line-w/result")[0]
    assert (v.part_id, v.lot_id, v.trigger_source) == ("W-1", "L-9", "mqtt")
    assert (message["part_id"], message["verdict"], message["trigger_id"]) == ("W-1", v.verdict, 5)
    assert v.sent_to == f"mqtt#{message['seq']}" and v.trigger_to_result_ms > 0
    # the operator's button works in the mqtt mode too (a part without a message)
    assert worker.trigger("W-2")
    qtbot.waitUntil(lambda: len(seen["verdicts"]) == 2, timeout=5_000)
    assert (seen["verdicts"][1].part_id, seen["verdicts"][1].trigger_source) == ("W-2", "software")


def test_a_mode_whose_output_is_off_is_refused_and_a_lost_camera_answers_error(
        qtbot, workspace, frames, sessions, tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    plugged = threading.Event()
    plugged.set()
    worker = CameraWorker(workspace, store, SETTINGS.with_changes(mode="triggered"), SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(frames, fps=60.0, plugged=plugged))
    seen = start(sessions, worker)
    qtbot.waitUntil(lambda: worker.line is not None and bool(seen["outputs"]), timeout=10_000)
    assert seen["outputs"][-1] == []  # no output on
    worker.set_mode("plc")
    qtbot.waitUntil(lambda: bool(seen["modes"]), timeout=5_000)
    assert seen["modes"] == ["triggered"] and "needs its output" in seen["refused"][0]
    plugged.clear()  # the camera is unplugged: a trigger now cannot get a fresh frame
    qtbot.wait(200)
    assert worker.trigger("X-1")
    qtbot.waitUntil(lambda: bool(seen["errors"]), timeout=5_000)
    answer = seen["errors"][0]
    assert (answer.verdict, answer.part_id, answer.error_code) == ("ERROR", "X-1", ERR_CAMERA_LOST)
    assert seen["verdicts"] == []


def test_an_anomaly_model_sends_its_map_drawn_over_the_judged_crop(qtbot, workspace, frames, sessions,
                                                                   tmp_path_factory, tmp_path):
    store = anomaly_store(tmp_path_factory, tmp_path / "models")
    worker = CameraWorker(workspace, store, SETTINGS, SourceSpec("camera", "0"),
                          capture_factory=FakeCamera.factory(frames, fps=30.0))
    seen = start(sessions, worker)
    qtbot.waitUntil(lambda: any(o is not None for o in seen["overlays"]) and bool(seen["verdicts"]), timeout=15_000)
    drawn, roi = next(o for o in seen["overlays"] if o is not None)
    assert roi == Roi(*PART_ROI) and drawn.shape == (PART_ROI[3], PART_ROI[2], 3) and drawn.dtype.name == "uint8"
    assert seen["verdicts"][0].anomaly_map is not None
