"""A Station on the line: triggers in, each result out to the PLC and MQTT, traceability in the log.

LineStation belongs to the thread that runs the station (like Station): the Camera page's worker or
`fanqc inspect` (run_line_station below). Other threads only call fire() (a key, a button, stdin); the
Modbus server and the MQTT client feed their triggers in themselves. The loop calls, per iteration:
tick(camera_ok) (answers overdue triggers, keeps the PLC's heartbeat and status going), then on_frame(frame)
for frames while wants_frames(), else wait().
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from fanqc_gui.core.station.camera_sources import Frame
from fanqc_gui.core.station.frame_grabber import ENDED, FAILED, RUNNING, FrameGrabber
from fanqc_gui.core.station.latency_stats import LatencyHistogram
from fanqc_gui.core.station.line_io.line_settings import LineIOSettings
from fanqc_gui.core.station.line_io.modbus_server import ModbusHandshake
from fanqc_gui.core.station.line_io.mqtt_publisher import MqttPublisher
from fanqc_gui.core.station.line_io.outbox import outbox_path
from fanqc_gui.core.station.line_io.register_map import ERR_STATION
from fanqc_gui.core.station.line_io.results import LineCounters, LineIOError, OutputStatus, PartResult
from fanqc_gui.core.station.line_io.triggers import MQTT, PLC, SOFTWARE, LineTriggers, Trigger, mode_name
from fanqc_gui.core.station.pipeline import Station, Verdict
from fanqc_gui.core.station.station_runner import RunSummary

STATUS_EVERY_S = 0.5


class LineStation:
    def __init__(self, station: Station, mode: str, line: LineIOSettings | None = None, *, live: bool = False,
                 frame_period_s: float = 0.0, interval_ms: int | None = None,
                 workspace_root: str | Path | None = None, clock: Callable[[], float] = time.monotonic):
        self.station = station
        self.line = line or station.settings.line_io
        # ValueError when MQTT is on and the name cannot be a topic level
        self.name = self.line.name_for(station.settings.name) if self.line.mqtt.enabled else \
            (self.line.line_name or station.settings.name)
        self._clock = clock
        self.triggers = LineTriggers(mode, self.line.trigger, live=live, frame_period_s=frame_period_s,
                                     interval_ms=interval_ms or station.settings.interval_ms, clock=clock)
        self.counters = LineCounters()
        self.latency = LatencyHistogram()          # trigger to result, per part
        self.last_result: PartResult | None = None
        self.modbus: ModbusHandshake | None = None
        self.mqtt: MqttPublisher | None = None
        self._workspace_root = Path(workspace_root or station.workspace.root)
        self._camera_ok = True
        self._next_status = 0.0

    @property
    def mode(self) -> str:
        return self.triggers.mode

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the enabled outputs; LineIOError when one cannot start or the mode needs one that is off."""
        m, q = self.line.modbus, self.line.mqtt
        if self.mode == PLC and not m.enabled:
            raise LineIOError("the plc trigger mode needs the Modbus server: enable it in the Line I/O settings "
                              "(fanqc inspect: --modbus PORT)")
        if self.mode == MQTT and not q.enabled:
            raise LineIOError("the mqtt trigger mode needs the MQTT output: enable it in the Line I/O settings "
                              "(fanqc inspect: --mqtt HOST)")
        try:
            if m.enabled:
                self.modbus = ModbusHandshake(m.host, m.port, m.register_base, on_trigger=self._on_plc_trigger,
                                              ack_timeout_ms=m.ack_timeout_ms, clock=self._clock)
                self.modbus.set_accepting(self.mode == PLC)
                self.modbus.set_camera_ok(False)  # not ready before the loop has seen the camera run
                self.modbus.start()
            if q.enabled:
                # the trigger topic is always subscribed (a later switch to the mqtt mode needs no restart);
                # outside that mode its messages are not taken (counted in triggers.refused)
                self.mqtt = MqttPublisher(q, self.name, outbox_path(self._workspace_root, self.name),
                                          on_trigger=self._on_mqtt_trigger)
                self.mqtt.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Answer every waiting trigger ERROR (the PLC is not left waiting), then stop the outputs."""
        for trigger in self.triggers.pending():
            self._answer_error(trigger, ERR_STATION)
        if self.modbus is not None:
            self.modbus.stop()
        if self.mqtt is not None:
            self._update_status(force=True)
            self.mqtt.stop()

    def set_mode(self, mode: str) -> None:
        """Change the trigger mode (plc and mqtt need their output started with this LineStation)."""
        if mode in (PLC, MQTT) and (self.modbus if mode == PLC else self.mqtt) is None:
            raise LineIOError(f"the {mode} trigger mode needs its output: enable it in the Line I/O settings "
                              f"and start the station again")
        for trigger in self.triggers.pending():
            self._answer_error(trigger, ERR_STATION)
        self.triggers.set_mode(mode)
        if self.modbus is not None:
            self.modbus.set_accepting(self.triggers.mode == PLC and not self.triggers.paused)

    def set_paused(self, paused: bool) -> None:
        """The operator paused the station: no trigger is taken (the PLC's are refused with code 12) and those
        waiting are answered ERROR 3, so nothing hangs while nobody judges."""
        self.triggers.paused = paused
        if paused:
            for trigger in self.triggers.pending():
                self._answer_error(trigger, ERR_STATION)
        if self.modbus is not None:
            self.modbus.set_accepting(not paused and self.triggers.mode == PLC)

    # ---- triggers from other threads -------------------------------------------------------------------
    def fire(self, part_id: str = "", lot_id: str = "") -> bool:
        """The operator's trigger (key, button, a line on stdin); False when this mode does not take it."""
        return self.triggers.fire(SOFTWARE, part_id, lot_id)

    def _on_plc_trigger(self, trigger: Trigger) -> bool:
        return self.triggers.fire(PLC, trigger.part_id, trigger.lot_id, trigger.trigger_id, at=trigger.at)

    def _on_mqtt_trigger(self, part_id: str = "", lot_id: str = "", trigger_id: int = 0,
                         at: float | None = None) -> bool:
        return self.triggers.fire(MQTT, part_id, lot_id, trigger_id, at=at)

    # ---- the station's loop ----------------------------------------------------------------------------
    def wants_frames(self) -> bool:
        return self.triggers.wants_frames()

    def wait(self, timeout: float) -> bool:
        return self.triggers.wait(timeout)

    def tick(self, camera_ok: bool) -> list[PartResult]:
        """Between frames: ERROR answers for triggers that cannot get a fresh frame, heartbeat, status."""
        self._camera_ok = camera_ok
        if self.modbus is not None:
            self.modbus.touch()
            self.modbus.set_camera_ok(camera_ok)
        answered = [self._answer_error(t, code) for t, code in self.triggers.expired(camera_ok)]
        self._update_status()
        return answered

    def on_frame(self, frame: Frame) -> Verdict | None:
        """Judge the frame when a trigger takes it; the verdict (None when the frame is not judged)."""
        image = frame.image
        trigger = self.triggers.take(frame, crop=lambda: self.station.effective_roi(image).crop(image))
        if trigger is None:
            return None
        delivered: list[bool] = []

        def deliver(verdict: Verdict) -> dict:
            delivered.append(True)
            return self._deliver(trigger, verdict, frame)
        try:
            return self.station.process(frame, deliver=deliver)
        except Exception:
            if not delivered:  # the PLC still gets an answer for this part
                self._answer_error(trigger, ERR_STATION)
            raise

    # ---- results ---------------------------------------------------------------------------------------
    def _deliver(self, trigger: Trigger, v: Verdict, frame: Frame) -> dict:
        ms = (self._clock() - trigger.at) * 1000.0
        self.counters.add(v.verdict)
        result = PartResult(self.name, v.verdict, trigger.source, trigger.trigger_id, trigger.part_id,
                            trigger.lot_id, v.p_ng, v.threshold, v.model_id, ms, v.latency_ms, v.wall_time,
                            frame.index, self.counters.as_dict(), run_id=self.station.run_id)
        sent_to = self._send(result)
        return {"trigger_source": trigger.source, "part_id": trigger.part_id or None,
                "lot_id": trigger.lot_id or None, "trigger_to_result_ms": round(ms, 3), "sent_to": sent_to or None}

    def _answer_error(self, trigger: Trigger, code: int) -> PartResult:
        """An ERROR answer: no verdict for this part (outputs only; the inspection log holds verdicts)."""
        self.counters.add("ERROR")
        info = self.station.predictor.info
        result = PartResult(self.name, "ERROR", trigger.source, trigger.trigger_id, trigger.part_id, trigger.lot_id,
                            None, self.station.predictor.threshold, info.id, (self._clock() - trigger.at) * 1000.0,
                            None, time.time(), None, self.counters.as_dict(), error_code=code,
                            run_id=self.station.run_id)
        self._send(result)
        return result

    def _send(self, result: PartResult) -> str:
        sent = []
        if self.modbus is not None:
            sent.append(f"modbus#{self.modbus.post(result)}")
        if self.mqtt is not None:
            sent.append(f"mqtt#{self.mqtt.enqueue(result)}")
        if result.verdict != "ERROR":  # the latency figures are those of judged parts
            self.latency.add(max(result.trigger_to_result_ms, 0.001))
        self.last_result = result
        return ",".join(sent)

    # ---- status ----------------------------------------------------------------------------------------
    def _update_status(self, force: bool = False) -> None:
        now = self._clock()
        if self.mqtt is None or (now < self._next_status and not force):
            return
        self._next_status = now + STATUS_EVERY_S
        if self.modbus is not None:
            self.counters.refused = self.modbus.refused
        self.mqtt.set_status_info({"trigger": mode_name(self.mode), "camera": "ok" if self._camera_ok else "lost",
                                   "counters": self.counters.as_dict(), "model_id": self.station.predictor.info.id,
                                   "run_id": self.station.run_id})

    def outputs(self) -> list[OutputStatus]:
        """The connection of each enabled output, for the Camera page and the CLI."""
        return [o.status() for o in (self.modbus, self.mqtt) if o is not None]

    def summary(self) -> dict:
        if self.modbus is not None:
            self.counters.refused = self.modbus.refused
        out = {"trigger": mode_name(self.mode), "line_name": self.name, **self.counters.as_dict(),
               "trigger_to_result_p50_ms": _ms(self.latency.percentile(50)),
               "trigger_to_result_p99_ms": _ms(self.latency.percentile(99)),
               "stale_frames_skipped": self.triggers.skipped_stale, "outputs": {}}
        if self.modbus is not None:
            out["outputs"]["modbus"] = {**self.modbus.status().as_dict(), "address": self.modbus.address,
                                        "results": self.modbus.results, "ack_timeouts": self.modbus.ack_timeouts}
        if self.mqtt is not None:
            out["outputs"]["mqtt"] = {**self.mqtt.status().as_dict(), "address": self.mqtt.address,
                                      "sent": self.mqtt.sent, "published": self.mqtt.published,
                                      "connects": self.mqtt.connects,
                                      "topic": self.mqtt.result_topic}
        return out


def camera_ok(grabber: FrameGrabber) -> bool:
    return grabber.status.state == RUNNING


def run_line_station(line: LineStation, grabber: FrameGrabber, max_frames: int | None = None,
                     should_stop: Callable[[], bool] | None = None, input_done: Callable[[], bool] | None = None,
                     on_progress: Callable[[RunSummary], None] | None = None, progress_every_s: float = 5.0,
                     summary: RunSummary | None = None) -> RunSummary:
    """The headless loop of a station on the line (`fanqc inspect --trigger ...`, bench/line_io.py). Judges
    until the source ends, max_frames verdicts, should_stop(), Ctrl-C, or - in the software mode - the
    trigger input ended with nothing left waiting. The grabber must be started; it is stopped here (the
    LineStation is stopped by its owner)."""
    station = line.station
    summary = summary or RunSummary()
    t0 = time.perf_counter()
    next_progress = t0 + progress_every_s
    try:
        while max_frames is None or summary.frames < max_frames:
            if should_stop is not None and should_stop():
                summary.stopped_by = "stopped"
                break
            line.tick(camera_ok(grabber))
            if not line.wants_frames():
                station.log.flush_if_due()
                if input_done is not None and input_done() and not line.wants_frames():
                    summary.stopped_by = "end of input"
                    break
                line.wait(0.05)
                continue
            item = grabber.get(timeout=0.05)
            if item is ENDED:
                summary.stopped_by = "source failed" if grabber.status.state == FAILED else "end of source"
                break
            if item is None:
                station.log.flush_if_due()
                continue
            if line.on_frame(item) is not None:
                summary.frames += 1
            if on_progress is not None and time.perf_counter() >= next_progress:
                next_progress += progress_every_s
                summary.seconds = time.perf_counter() - t0
                on_progress(summary)
        else:
            summary.stopped_by = "frame limit"
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
    finally:
        summary.seconds = time.perf_counter() - t0
        grabber.stop()
        station.flush()
    return summary


def _ms(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)
