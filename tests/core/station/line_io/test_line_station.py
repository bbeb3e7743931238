"""A station on the line end to end with a really trained model: MQTT triggers in and results out through a real
mosquitto, part presence on a generated conveyor video, the operator's trigger; the log holds the same parts."""
from __future__ import annotations

import json

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from line_io_helpers import LineRun, Subscriber, wait_for
from station_helpers import PART_ROI, demo_video

from fanqc_gui.core.dataset.demo_data import render_part
from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings, MqttSettings
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings

pytestmark = pytest.mark.slow
NO_CAPTURES = CaptureRules(save_ng=False, go_fraction=0.0)


def log_rows(ws, run):
    log = InspectionLog.for_workspace(ws.root)
    try:
        return log.recent(1000, run_id=run.station.run_id)[::-1]
    finally:
        log.close()


def test_mqtt_triggers_in_one_result_message_per_part_out_and_the_log_holds_the_same_parts(
        broker, station_env, tmp_path_factory):
    ws, store = station_env
    video, _ = demo_video(tmp_path_factory)
    line = LineIOSettings(line_name="cell-2", mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=broker.port,
                                                                topic_prefix="plant"))
    settings = StationSettings(name="station 2", roi=Roi(*PART_ROI), capture=NO_CAPTURES, line_io=line)
    sub = Subscriber(broker.port, ["plant/cell-2/result", "plant/cell-2/status"])
    plc = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mes")
    plc.connect("127.0.0.1", broker.port)
    plc.loop_start()
    with LineRun(ws, store, settings, "mqtt", SourceSpec.parse(str(video))) as run:
        # "connected" means triggers can arrive: the station says so once its subscription is acknowledged (on
        # the connection alone, a trigger sent at once could reach the broker before the subscription did).
        assert wait_for(lambda: run.line.outputs()[0].state == "connected")
        assert run.line.mqtt.connects == 1
        sent = []
        for n in range(1, 7):
            payload = json.dumps({"part_id": f"M-{n}", "lot_id": "LOT-3", "id": n})
            sent.append(plc.publish("plant/cell-2/trigger", payload, qos=1))
            if n == 3:   # the same trigger delivered twice (QoS 1) is judged once
                sent.append(plc.publish("plant/cell-2/trigger", payload, qos=1))
            assert wait_for(lambda n=n: len(sub.on("plant/cell-2/result")) >= n)
        assert wait_for(lambda: any(s.get("counters", {}).get("inspected") == 6
                                    for s in sub.on("plant/cell-2/status")))
    messages = sub.on("plant/cell-2/result")
    assert [m["part_id"] for m in messages] == [f"M-{n}" for n in range(1, 7)]
    assert [m["seq"] for m in messages] == list(range(1, 7))
    assert {(m["station"], m["trigger"], m["lot_id"]) for m in messages} == {("cell-2", "mqtt", "LOT-3")}
    assert all(m["verdict"] in ("GO", "NG") and m["trigger_to_result_ms"] >= m["model_ms"] > 0 for m in messages)
    rows = log_rows(ws, run)
    assert [(r.part_id, r.verdict, r.sent_to) for r in rows] == [(m["part_id"], m["verdict"], f"mqtt#{m['seq']}")
                                                                 for m in messages]
    assert sub.on("plant/cell-2/status")[-1]["state"] == "offline"   # said on a clean stop
    plc.loop_stop()
    sub.close()


def write_conveyor_video(path, parts: int) -> None:
    """A 640x480 MJPG video: an empty belt, then parts that slide into the ROI, stop, and leave."""
    rng = np.random.default_rng(11)
    belt = np.full((480, 640, 3), 70, np.uint8)
    belt[:, ::16] = 90
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    x0, y0 = PART_ROI[:2]

    def shot(part=None, x=0):
        frame = belt.copy()
        if part is not None and -160 < x < 640:
            a, b = max(0, x), min(640, x + 160)
            frame[y0 + 20:y0 + 180, a:b] = part[:, a - x:b - x]
        writer.write(frame)

    for _ in range(5):
        shot()
    for _ in range(parts):
        part = render_part(rng, None, 160)
        for x in range(-160, x0 + 20, 60):
            shot(part, x)
        for _ in range(6):
            shot(part, x0 + 20)
        for x in range(x0 + 80, 700, 60):
            shot(part, x)
        for _ in range(4):
            shot()
    writer.release()


def test_presence_judges_each_part_once_when_it_stops_in_the_roi(station_env, tmp_path):
    ws, store = station_env
    video = tmp_path / "belt.avi"
    write_conveyor_video(video, parts=5)
    settings = StationSettings(roi=Roi(*PART_ROI), capture=NO_CAPTURES)
    run = LineRun(ws, store, settings, "presence", SourceSpec.parse(str(video)), loop=False)
    assert wait_for(lambda: not run._thread.is_alive(), timeout=60)   # the video ends the run
    run.close()
    assert run.summary.stopped_by == "end of source"
    rows = log_rows(ws, run)
    assert len(rows) == 5 and {r.trigger_source for r in rows} == {"presence"}
    assert run.line.triggers.presence.parts == 5


def test_the_operators_trigger_judges_the_next_frame(station_env, tmp_path_factory):
    ws, store = station_env
    video, _ = demo_video(tmp_path_factory)
    settings = StationSettings(roi=Roi(*PART_ROI), capture=NO_CAPTURES)
    with LineRun(ws, store, settings, "triggered", SourceSpec.parse(str(video))) as run:
        for part in ("S-1", "S-2", "S-3"):
            assert run.line.fire(part)
            assert wait_for(lambda part=part: run.line.last_result is not None
                            and run.line.last_result.part_id == part)
        assert not run.line.triggers.fire("plc")   # not this mode's trigger
    rows = log_rows(ws, run)
    assert [(r.part_id, r.trigger_source) for r in rows] == [("S-1", "software"), ("S-2", "software"),
                                                             ("S-3", "software")]
    assert all(r.sent_to is None and r.trigger_to_result_ms > 0 for r in rows)   # no output was on
