"""The PLC handshake over Modbus TCP: a real pymodbus client plays the PLC against the station's server, the
station judges a demo video with a really trained model, and the inspection log is read back."""
from __future__ import annotations

import csv
import threading

import pytest
from line_io_helpers import LineRun, Plc, free_port, wait_for
from station_helpers import PART_ROI, FakeCamera, demo_video, slow_factory, video_frames

from fanqc_gui.core.station.camera_sources import SourceSpec
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings, ModbusSettings
from fanqc_gui.core.station.line_io.modbus_server import ModbusHandshake
from fanqc_gui.core.station.line_io.results import LineIOError
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings

pytestmark = pytest.mark.slow
NO_CAPTURES = CaptureRules(save_ng=False, go_fraction=0.0)


def plc_settings(port: int, **modbus) -> StationSettings:
    line = LineIOSettings(modbus=ModbusSettings(enabled=True, host="127.0.0.1", port=port, **modbus))
    return StationSettings(name="line-7", roi=Roi(*PART_ROI), capture=NO_CAPTURES, mode="plc", line_io=line)


def test_the_plc_triggers_part_by_part_reads_each_verdict_and_the_log_holds_the_parts(station_env,
                                                                                      tmp_path_factory):
    ws, store = station_env
    port = free_port()
    video, _ = demo_video(tmp_path_factory)
    with LineRun(ws, store, plc_settings(port, register_base=100), "plc", SourceSpec.parse(str(video))) as run:
        plc = Plc(port, base=100)
        seen = []
        for n in range(1, 9):
            plc.wait(rm.TRIGGER_READY, 1)
            assert not plc.trigger(n, f"P-{n:03d}", "LOT-9").isError()
            regs = plc.wait(rm.RESULT_VALID, 1)
            r = plc.result(regs)
            assert r["trigger_id"] == n and r["verdict"] in ("GO", "NG") and r["error"] == 0
            assert r["busy"] == 0 and r["ready"] == 0 and r["id"] == n and r["inspected"] == n
            assert 0 < r["latency_ms"] < 1000
            assert regs[rm.PART_ID:rm.TRIGGER + 1] == [0] * 25   # taken with the trigger
            seen.append(r)
            assert not plc.ack().isError()
            after = plc.result(plc.read())
            assert after["valid"] == 0 and after["ready"] == 1 and after["id"] == n  # the result stays readable
        # the station's registers are the station's: a PLC write is refused by the protocol
        refused = plc.client.write_register(100 + rm.VERDICT, 2)
        assert refused.isError() and refused.exception_code == 2
        plc.close()
    log = InspectionLog.for_workspace(ws.root)
    rows = log.recent(100, run_id=run.station.run_id)[::-1]
    assert [r.part_id for r in rows] == [f"P-{n:03d}" for n in range(1, 9)]
    assert {(r.trigger_source, r.lot_id) for r in rows} == {("plc", "LOT-9")}
    assert [r.sent_to for r in rows] == [f"modbus#{n}" for n in range(1, 9)]
    for row, r in zip(rows, seen):
        assert row.verdict == r["verdict"] and row.p_ng == pytest.approx(r["p_ng"], abs=1e-4)
        assert 0 < row.trigger_to_result_ms < 1000 and row.trigger_to_result_ms >= row.latency_ms
    dest = ws.root / "log.csv"
    assert log.export_csv(dest, run_id=run.station.run_id) == 8
    with open(dest, newline="", encoding="utf-8") as fh:
        exported = list(csv.DictReader(fh))
    assert exported[0]["part_id"] == "P-001" and exported[0]["trigger_source"] == "plc"
    assert float(exported[0]["trigger_to_result_ms"]) > 0 and exported[0]["sent_to"] == "modbus#1"
    log.close()
    assert run.line.summary()["inspected"] == 8 and run.line.triggers.skipped_stale > 0


def test_a_second_trigger_and_a_missing_ack_are_refused_with_their_codes(station_env, tmp_path_factory):
    ws, store = station_env
    port = free_port()
    video, _ = demo_video(tmp_path_factory)
    with LineRun(ws, store, plc_settings(port), "plc", SourceSpec.parse(str(video)),
                 predictor_factory=slow_factory(0.4)) as run:
        plc = Plc(port)
        plc.wait(rm.TRIGGER_READY, 1)
        plc.trigger(1, "FIRST")
        busy = plc.result(plc.read())
        assert busy["busy"] == 1 and busy["ready"] == 0
        plc.trigger(2, "SECOND")                       # while the first is judged
        r = plc.result(plc.read())
        assert (r["refusal"], r["refused_id"], r["refused"]) == (rm.REFUSED_BUSY, 2, 1)
        r = plc.result(plc.wait(rm.RESULT_VALID, 1))
        assert r["trigger_id"] == 1 and r["verdict"] in ("GO", "NG")
        plc.trigger(3, "THIRD")                        # result not acknowledged yet
        r = plc.result(plc.read())
        assert (r["refusal"], r["refused_id"], r["refused"]) == (rm.REFUSED_NOT_ACKED, 3, 2)
        assert r["valid"] == 1 and r["trigger_id"] == 1  # the result waits for its ack, untouched
        plc.ack()
        plc.wait(rm.TRIGGER_READY, 1)
        plc.trigger(4, "FOURTH")
        r = plc.result(plc.wait(rm.RESULT_VALID, 1))
        assert r["trigger_id"] == 4 and r["id"] == 2
        plc.close()
    log = InspectionLog.for_workspace(ws.root)
    assert [row.part_id for row in log.recent(10, run_id=run.station.run_id)] == ["FOURTH", "FIRST"]
    log.close()


def test_an_ack_timeout_gives_the_result_up_and_the_next_trigger_is_taken(station_env, tmp_path_factory):
    ws, store = station_env
    port = free_port()
    video, _ = demo_video(tmp_path_factory)
    with LineRun(ws, store, plc_settings(port, ack_timeout_ms=300), "plc", SourceSpec.parse(str(video))) as run:
        plc = Plc(port)
        plc.wait(rm.TRIGGER_READY, 1)
        plc.trigger(1)
        plc.wait(rm.RESULT_VALID, 1)
        regs = plc.wait(rm.TRIGGER_READY, 1, timeout=5)   # nobody acknowledged: given up after 300 ms
        assert regs[rm.RESULT_VALID] == 0 and regs[rm.RESULT_TRIGGER_ID] == 1
        plc.trigger(2)
        assert plc.result(plc.wait(rm.RESULT_VALID, 1))["trigger_id"] == 2
        plc.close()
    assert run.line.modbus.ack_timeouts >= 1


def test_a_trigger_while_the_camera_is_lost_is_answered_error_at_once(station_env, tmp_path_factory):
    ws, store = station_env
    port = free_port()
    video, _ = demo_video(tmp_path_factory)
    plugged = threading.Event()
    plugged.set()
    camera = FakeCamera.factory(video_frames(video), fps=100.0, plugged=plugged)
    with LineRun(ws, store, plc_settings(port), "plc", SourceSpec("camera", "0"), capture_factory=camera) as run:
        plc = Plc(port)
        plc.wait(rm.TRIGGER_READY, 1)
        plugged.clear()                                 # the cable is pulled
        regs = plc.wait(rm.CAMERA_OK, 0, timeout=10)
        assert regs[rm.TRIGGER_READY] == 0
        plc.trigger(5, "NO-PICTURE")                    # the PLC triggers anyway
        r = plc.result(plc.wait(rm.RESULT_VALID, 1, timeout=2))
        assert (r["verdict"], r["error"], r["trigger_id"], r["errors"]) == ("ERROR", rm.ERR_CAMERA_LOST, 5, 1)
        plc.ack()
        plugged.set()
        plc.wait(rm.CAMERA_OK, 1, timeout=15)           # the station reconnects by itself
        plc.wait(rm.TRIGGER_READY, 1)
        plc.trigger(6, "BACK")
        r = plc.result(plc.wait(rm.RESULT_VALID, 1))
        assert r["verdict"] in ("GO", "NG") and r["trigger_id"] == 6
        plc.close()
    log = InspectionLog.for_workspace(ws.root)
    assert [row.part_id for row in log.recent(10, run_id=run.station.run_id)] == ["BACK"]  # ERROR is no verdict
    log.close()


def test_outside_plc_mode_triggers_are_refused_and_each_result_still_shows(station_env, tmp_path_factory):
    ws, store = station_env
    port = free_port()
    video, _ = demo_video(tmp_path_factory)
    settings = plc_settings(port).with_changes(mode="continuous")
    with LineRun(ws, store, settings, "continuous", SourceSpec.parse(str(video))):
        plc = Plc(port)
        plc.wait(rm.RESULT_VALID, 1)
        assert wait_for(lambda: plc.result(plc.read())["id"] > 20)   # newest wins, no ack needed
        plc.trigger(9)
        r = plc.result(plc.read())
        assert (r["refusal"], r["refused_id"], r["ready"]) == (rm.REFUSED_NOT_PLC, 9, 0)
        plc.close()


def test_a_port_in_use_is_one_clear_error():
    first = ModbusHandshake("127.0.0.1", 0)
    first.start()
    try:
        second = ModbusHandshake("127.0.0.1", first.port)
        with pytest.raises(LineIOError, match=rf"cannot listen for the PLC on 127.0.0.1:{first.port}: the port is "
                                              rf"in use"):
            second.start()
        assert second.status().state == "failed" and "in use" in second.status().detail
        assert first.status().state == "listening" and "no PLC connected" in first.status().detail
    finally:
        first.stop()
    assert first.status().state == "stopped"
