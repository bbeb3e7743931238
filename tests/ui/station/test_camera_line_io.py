"""The Camera page on the line, driven like an operator does, against real servers: a pymodbus client plays the
PLC (trigger, result, ack), a real mosquitto takes the results and goes away and comes back; the operator's
trigger carries a typed part and lot id into the log view and the CSV; an anomaly model's map is drawn over
the region judged and saved beside NG captures."""
from __future__ import annotations

import csv
import shutil

import pytest
from line_io_helpers import Broker, Plc, Subscriber, free_port
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from station_anomaly_helpers import anomaly_store
from station_helpers import PART_ROI, FakeCamera, demo_video, store_with_active_model, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.station.captures import map_path_for
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings, ModbusSettings, MqttSettings
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings, save_station_settings
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.ui.station.camera_page import CameraPage

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
NO_CAPTURES = CaptureRules(save_ng=False, go_fraction=0.0)


@pytest.fixture
def workspace(demo_workspace_template, tmp_path):
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def store(tmp_path_factory, demo_workspace_template, tmp_path):
    return store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")


@pytest.fixture
def frames(tmp_path_factory):
    return video_frames(demo_video(tmp_path_factory)[0])


@pytest.fixture
def make_page(qtbot, workspace):
    pages = []

    def make(store, station: StationSettings, **kwargs):
        save_station_settings(station)  # what the Settings dialog saved earlier
        page = CameraPage(workspace, store, station_name=station.name, **kwargs)
        qtbot.addWidget(page)
        page.resize(1280, 800)
        page.show()
        qtbot.waitExposed(page)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()


def choose_mode(page, mode: str) -> None:
    page.mode_box.setCurrentIndex(page.mode_box.findData(mode))


def log_rows(workspace):
    log = InspectionLog.for_workspace(workspace.root)
    try:
        return log.recent(100)[::-1]
    finally:
        log.close()


def test_the_plc_triggers_the_page_shows_the_verdict_and_the_plc_reads_it(qtbot, make_page, store, frames,
                                                                          workspace):
    port = free_port()
    station = StationSettings(name="plc-1", roi=Roi(*PART_ROI), capture=NO_CAPTURES,
                              line_io=LineIOSettings(modbus=ModbusSettings(enabled=True, host="127.0.0.1", port=port)))
    page = make_page(store, station, capture_factory=FakeCamera.factory(frames, fps=60.0))
    assert "Modbus start with the station" in page.line_status.text()
    choose_mode(page, "plc")
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Modbus: no PLC connected on 127.0.0.1" in page.line_status.text(), timeout=10_000)
    assert not page.trigger_button.isEnabled() and not page.part_edit.isEnabled()
    plc = Plc(port)
    try:
        qtbot.waitUntil(lambda: "Modbus: 1 PLC connected" in page.line_status.text(), timeout=5_000)
        assert page.line_status.outputs[0].ok
        plc.wait(rm.TRIGGER_READY, 1)
        assert not plc.trigger(17, "A-17", "L5").isError()
        result = plc.result(plc.wait(rm.RESULT_VALID, 1))
        qtbot.waitUntil(lambda: page.last_verdict is not None, timeout=5_000)
        v = page.last_verdict
        assert (result["verdict"], result["trigger_id"]) == (v.verdict, 17)
        assert (v.part_id, v.lot_id, v.trigger_source) == ("A-17", "L5", "plc")
        assert page.banner.word.text() == v.verdict and "part A-17 (lot L5)" in page.banner.detail.text()
        # the operator's Space is not a PLC trigger: the PLC owns the handshake
        page.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=2_000)
        QTest.keyClick(page, Qt.Key.Key_Space)
        assert "the PLC triggers" in page.status.text()
        assert not plc.ack().isError()
        regs = plc.wait(rm.TRIGGER_READY, 1)
        assert regs[rm.RESULT_VALID] == 0 and plc.result(regs)["inspected"] == 1
    finally:
        plc.close()
    # the log view shows the traceability columns of that part
    view = page.log_view
    qtbot.waitUntil(lambda: (view.refresh(), view.model.rowCount())[1] == 1, timeout=5_000)
    cells = {view.model.headerData(c, Qt.Orientation.Horizontal): view.model.data(view.model.index(0, c))
             for c in range(view.model.columnCount())}
    assert (cells["Part"], cells["Lot"], cells["Trigger"], cells["Sent to"]) == ("A-17", "L5", "plc", "modbus#1")
    assert cells["Latency"].endswith(" ms") and float(cells["Latency"][:-3]) > 0
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)  # Stop
    assert page.session is None and "start with the station" in page.line_status.text()


def test_mqtt_status_says_waiting_while_the_broker_is_away_and_nothing_is_lost(qtbot, make_page, store, frames,
                                                                              tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sub = Subscriber(broker.port, ["plant/cell-9/result"], client_id="mes", clean=False)
    line = LineIOSettings(line_name="cell-9", mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=broker.port,
                                                                topic_prefix="plant"))
    page = make_page(store, StationSettings(name="mqtt-1", roi=Roi(*PART_ROI), capture=NO_CAPTURES, line_io=line),
                     capture_factory=FakeCamera.factory(frames, fps=60.0))
    try:
        choose_mode(page, "triggered")
        page.start(page.source_bar.spec())
        qtbot.waitUntil(lambda: "MQTT: connected to 127.0.0.1" in page.line_status.text(), timeout=10_000)
        qtbot.waitUntil(lambda: page.roi_view.frame_size() is not None, timeout=10_000)
        broker.stop()                                        # the broker goes away
        qtbot.waitUntil(lambda: "MQTT offline" in page.line_status.text(), timeout=10_000)
        for n in (1, 2, 3):                                  # judging goes on: parts typed and triggered
            QTest.keyClicks(page.part_edit, f"P-{n}")
            QTest.keyClick(page.part_edit, Qt.Key.Key_Return)
            qtbot.waitUntil(lambda n=n: page.last_verdict is not None and page.last_verdict.part_id == f"P-{n}",
                            timeout=5_000)
            assert page.part_edit.text() == ""               # cleared for the next part
        qtbot.waitUntil(lambda: "3 messages waiting in the outbox" in page.line_status.text(), timeout=5_000)
        assert not page.line_status.outputs[0].ok
        broker.start()                                       # back on the same port
        qtbot.waitUntil(lambda: page.line_status.outputs and page.line_status.outputs[0].state == "connected"
                        and page.line_status.outputs[0].waiting == 0, timeout=15_000)
        assert "waiting" not in page.line_status.text()
        qtbot.waitUntil(lambda: len(sub.on("plant/cell-9/result")) >= 3, timeout=10_000)
        assert [m["part_id"] for m in sub.on("plant/cell-9/result")] == ["P-1", "P-2", "P-3"]
    finally:
        page.shutdown()
        sub.close()
        broker.stop()


def test_the_operator_triggers_with_part_and_lot_id_and_the_csv_has_them(qtbot, make_page, store, frames,
                                                                        workspace, tmp_path):
    page = make_page(store, StationSettings(name="desk-1", roi=Roi(*PART_ROI), capture=NO_CAPTURES),
                     capture_factory=FakeCamera.factory(frames, fps=60.0))
    assert "Line I/O: off" in page.line_status.text()
    choose_mode(page, "triggered")
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: page.roi_view.frame_size() is not None, timeout=10_000)
    qtbot.mouseClick(page.lot_edit, Qt.MouseButton.LeftButton)
    QTest.keyClicks(page.lot_edit, "LOT-42")
    qtbot.mouseClick(page.part_edit, Qt.MouseButton.LeftButton)
    QTest.keyClicks(page.part_edit, "SN 0001")  # a space inside a part id is typed, not a trigger
    assert page.last_verdict is None and page.part_edit.text() == "SN 0001"
    qtbot.mouseClick(page.trigger_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_verdict is not None, timeout=5_000)
    assert (page.last_verdict.part_id, page.last_verdict.lot_id) == ("SN 0001", "LOT-42")
    assert page.lot_edit.text() == "LOT-42" and page.part_edit.text() == ""
    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=2_000)
    QTest.keyClick(page, Qt.Key.Key_Space)  # the keyboard is back with the page: Space triggers the next part
    qtbot.waitUntil(lambda: page.last_verdict.part_id == "", timeout=5_000)
    page.stop()
    assert [(r.part_id, r.lot_id, r.trigger_source) for r in log_rows(workspace)] == \
        [("SN 0001", "LOT-42", "software"), (None, "LOT-42", "software")]
    dest = tmp_path / "log.csv"
    assert page.log_view.export_csv(dest) == 2
    with open(dest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["trigger_source"], r["part_id"], r["lot_id"]) for r in rows] == \
        [("software", "SN 0001", "LOT-42"), ("software", "", "LOT-42")]
    assert all(float(r["trigger_to_result_ms"]) > 0 for r in rows) and "sent_to" in rows[0]


def test_an_anomaly_model_draws_its_map_over_the_region_and_ng_captures_keep_it(qtbot, make_page, frames,
                                                                               workspace, tmp_path_factory, tmp_path):
    store = anomaly_store(tmp_path_factory, tmp_path / "anomaly-models")
    keep_ng = CaptureRules(save_ng=True, go_fraction=0.0, max_per_minute=100_000, min_free_mb=0)
    page = make_page(store, StationSettings(name="anomaly-1", roi=Roi(*PART_ROI), capture=keep_ng),
                     capture_factory=FakeCamera.factory(frames, fps=30.0))
    assert not page.roi_view.has_overlay()
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: page.last_verdict is not None and page.roi_view.has_overlay(), timeout=15_000)
    assert page.last_verdict.verdict == "NG" and page.banner.word.text() == "NG"
    drawn, _, roi = page.roi_view._overlay
    assert roi == Roi(*PART_ROI) and drawn.shape == (PART_ROI[3], PART_ROI[2], 3)
    page.stop()
    rows = [r for r in log_rows(workspace) if r.image_path]
    assert rows and all(map_path_for(workspace.root / r.image_path).is_file() for r in rows)


def test_an_output_that_cannot_start_stops_the_station_with_the_reason(qtbot, make_page, store, frames):
    import socket

    page = make_page(store, StationSettings(name="plc-2", roi=Roi(*PART_ROI), capture=NO_CAPTURES),
                     capture_factory=FakeCamera.factory(frames, fps=60.0))
    choose_mode(page, "plc")  # Modbus is off in this station's settings
    assert "needs the Modbus server" in page.status.text() and "Settings > Line I/O" in page.status.text()
    qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.session is None, timeout=10_000)
    assert page.banner.word.text() == "STOPPED" and "needs the Modbus server" in page.status.text()
    with socket.socket() as taken:  # another program holds the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        modbus = ModbusSettings(enabled=True, host="127.0.0.1", port=port)
        page.apply_station_settings(page.settings.with_changes(line_io=LineIOSettings(modbus=modbus)))
        qtbot.mouseClick(page.source_bar.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.session is None, timeout=10_000)
    assert page.banner.word.text() == "STOPPED" and str(port) in page.status.text()
    assert page.source_bar.start_button.text() == "Start"


def test_every_n_ms_judges_one_frame_per_interval(qtbot, make_page, store, frames, workspace):
    page = make_page(store, StationSettings(name="timer-1", roi=Roi(*PART_ROI), capture=NO_CAPTURES),
                     capture_factory=FakeCamera.factory(frames, fps=60.0))
    choose_mode(page, "interval")
    page.interval_box.setValue(250)
    assert page.interval_box.isEnabled() and not page.trigger_button.isHidden()
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: len(log_rows(workspace)) >= 7, timeout=10_000)
    page.stop()
    rows = log_rows(workspace)
    assert {r.trigger_source for r in rows} == {"interval"}
    gaps = [b.time - a.time for a, b in zip(rows, rows[1:])]
    # one frame per 250 ms, not one per camera frame (60 a second)
    assert all(0.15 <= gap <= 0.5 for gap in gaps), gaps


def test_part_presence_judges_each_part_once_and_never_the_empty_belt(qtbot, make_page, store, frames, workspace):
    x, y, w, h = PART_ROI
    empty = frames[0].copy()
    empty[y:y + h, x:x + w] = 90  # the belt with nothing in the region
    parts = [frames[0], frames[len(frames) // 2]]  # two different parts, each in the region
    cycle = [empty] * 12 + [parts[0]] * 10 + [empty] * 12 + [parts[1]] * 10
    page = make_page(store, StationSettings(name="presence-1", roi=Roi(*PART_ROI), capture=NO_CAPTURES),
                     capture_factory=FakeCamera.factory(cycle, fps=60.0))
    choose_mode(page, "presence")
    page.start(page.source_bar.spec())
    qtbot.waitUntil(lambda: len(log_rows(workspace)) >= 4, timeout=15_000)
    page.stop()
    camera = FakeCamera.instances[-1]
    full, rest = divmod(camera.served, len(cycle))
    arrivals = 2 * full + (rest > 12) + (rest > 34)  # parts that came into the region while the camera ran
    rows = log_rows(workspace)
    assert {r.trigger_source for r in rows} == {"presence"}
    assert arrivals - 1 <= len(rows) <= arrivals, (len(rows), arrivals, camera.served)
