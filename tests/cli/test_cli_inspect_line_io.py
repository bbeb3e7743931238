"""`fanqc inspect` on the line: a PLC (pymodbus client) triggers part by part and reads GO/NG while a subscriber
gets one MQTT message per part from a real mosquitto; stdin triggers; clear errors; the password never shows."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest
from line_io_helpers import Plc, Subscriber, broker, free_port, wait_for  # noqa: F401 - broker is a fixture
from station_helpers import PART_ROI, demo_video, store_with_active_model

from fanqc_gui.cli import main
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
ROI = ",".join(map(str, PART_ROI))
SECRET = "Pa55-w0rd#only-here"


@pytest.fixture
def env(tmp_path_factory, demo_workspace_template, tmp_path):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    video, _ = demo_video(tmp_path_factory)
    return tmp_path / "ws", store, video


def inspect_process(ws, store, video, *extra, stdin=None):
    argv = [sys.executable, "-m", "fanqc_gui.cli", "inspect", "--source", str(video), "--loop", "--roi", ROI,
            "--workspace", str(ws), "--models", str(store.root), "--no-captures", "--json", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "FANQC_MQTT_PASSWORD": SECRET}
    return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_plc_triggers_part_by_part_and_mqtt_and_the_log_get_the_same_parts(env, broker):  # noqa: F811
    ws, store, video = env
    port = free_port()
    sub = Subscriber(broker.port, ["fanqc/cell-9/result", "fanqc/cell-9/status"])
    proc = inspect_process(ws, store, video, "--trigger", "plc", "--modbus", f"127.0.0.1:{port}", "--mqtt",
                           f"mqtt://station9@127.0.0.1:{broker.port}", "--line-name", "cell-9")
    try:
        assert wait_for(lambda: listening(port) or proc.poll() is not None, timeout=120), "never listened"
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        plc = Plc(port)
        verdicts = []
        for n in range(1, 6):
            plc.wait(rm.TRIGGER_READY, 1, timeout=30)
            plc.trigger(n, f"PART-{n}", "LOT-1")
            r = plc.result(plc.wait(rm.RESULT_VALID, 1))
            assert r["trigger_id"] == n and r["verdict"] in ("GO", "NG")
            verdicts.append(r["verdict"])
            plc.ack()
        plc.close()
        assert wait_for(lambda: len(sub.on("fanqc/cell-9/result")) >= 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    doc = json.loads(out)
    assert doc["trigger"] == "plc" and doc["frames"] == 5 and doc["stopped_by"] == "stopped by SIGTERM"
    li = doc["line_io"]
    assert (li["inspected"], li["errors"], li["refused"], li["line_name"]) == (5, 0, 0, "cell-9")
    assert 0 < li["trigger_to_result_p50_ms"] <= li["trigger_to_result_p99_ms"]
    assert li["outputs"]["modbus"]["results"] == 5 and li["outputs"]["mqtt"]["sent"] == 5
    assert li["outputs"]["mqtt"]["waiting"] == 0 and li["outputs"]["mqtt"]["topic"] == "fanqc/cell-9/result"
    messages = sub.on("fanqc/cell-9/result")
    assert [(m["part_id"], m["verdict"]) for m in messages] == [(f"PART-{n}", v) for n, v in zip(range(1, 6),
                                                                                                   verdicts)]
    assert sub.on("fanqc/cell-9/status")[-1]["state"] == "offline"
    log = InspectionLog.for_workspace(ws)
    rows = log.recent(100, run_id=doc["run_id"])[::-1]
    log.close()
    assert [(r.part_id, r.lot_id, r.verdict, r.trigger_source) for r in rows] == \
        [(f"PART-{n}", "LOT-1", v, "plc") for n, v in zip(range(1, 6), verdicts)]
    assert [r.sent_to for r in rows] == [f"modbus#{n},mqtt#{m['seq']}" for n, m in zip(range(1, 6), messages)]
    assert f"PLC connected on 127.0.0.1:{port}" in err   # "no PLC" or "1 PLC": the test's probe may be there
    assert f"mqtt: connecting to 127.0.0.1:{broker.port}" in err or f"mqtt: connected to 127.0.0.1:{broker.port}" in err
    assert SECRET not in out and SECRET not in err
    sub.close()


def test_software_triggers_come_one_a_line_on_stdin(env):
    ws, store, video = env
    proc = inspect_process(ws, store, video, "--trigger", "software", stdin=subprocess.PIPE)
    out, err = proc.communicate("A-1,LOT-7\nA-2\n\n", timeout=120)
    assert proc.returncode == 0, err[-2000:]
    doc = json.loads(out)
    assert doc["frames"] == 3 and doc["stopped_by"] == "end of input" and doc["trigger"] == "software"
    log = InspectionLog.for_workspace(ws)
    rows = log.recent(10, run_id=doc["run_id"])[::-1]
    log.close()
    assert [(r.part_id, r.lot_id, r.trigger_source) for r in rows] == [("A-1", "LOT-7", "software"),
                                                                       ("A-2", None, "software"),
                                                                       (None, None, "software")]


def test_continuous_rows_say_what_triggered_them(capsys, env):
    ws, store, video = env
    code = main(["inspect", "--source", str(video), "--roi", ROI, "--frames", "5", "--workspace", str(ws),
                 "--models", str(store.root), "--no-captures", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["trigger"] == "continuous" and doc["line_io"]["outputs"] == {}
    log = InspectionLog.for_workspace(ws)
    rows = log.recent(10, run_id=doc["run_id"])
    log.close()
    assert {r.trigger_source for r in rows} == {"continuous"} and all(r.trigger_to_result_ms > 0 for r in rows)


def test_user_errors_are_one_clear_line_and_never_show_a_password(capsys, env):
    ws, store, video = env
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy_port = taken.getsockname()[1]
    cases = [
        (["--trigger", "plc"], "the plc trigger mode needs the Modbus server: enable it in the Line I/O settings"),
        (["--trigger", "mqtt"], "the mqtt trigger mode needs the MQTT output"),
        (["--modbus", "five"], "--modbus 'five' must be [HOST:]PORT, e.g. 5020 or 0.0.0.0:502"),
        (["--modbus", "70000"], "Modbus port 70000 must be a whole number from 0 to 65535"),
        (["--modbus", f"127.0.0.1:{busy_port}"], (f"cannot listen for the PLC on 127.0.0.1:{busy_port}: the port "
                                                  f"is in use")),
        (["--mqtt", f"mqtt://station:{SECRET}@broker"], ("--mqtt 'mqtt://station:***@broker': no password on "
                                                         "the command line")),
        (["--mqtt", "broker", "--mqtt-prefix", "plant/#"], "MQTT topic prefix 'plant/#' may not contain '+', '#'"),
        (["--mqtt", "broker", "--line-name", "a/b"], "station name on the line 'a/b' may not contain '/'"),
    ]
    try:
        for argv, message in cases:
            code = main(["inspect", "--source", str(video), "--workspace", str(ws), "--models", str(store.root),
                         "--json", *argv])
            out, err = capsys.readouterr()
            assert code == 2, (argv, err)
            assert f"fanqc: error: {message}" in err and "Traceback" not in err, err
            assert json.loads(out)["error"].startswith(message.split(":")[0][:20])
            assert SECRET not in out + err
    finally:
        taken.close()
