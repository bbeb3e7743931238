"""What one trigger comes to: a verdict (GO / NG) or an ERROR answer, with the part's identity and timing.
The same PartResult goes to the Modbus registers, the MQTT message and (for verdicts) the inspection log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.station.line_io.register_map import ERROR_TEXT


@dataclass
class LineCounters:
    """Since the station started on the line (the operator's counter reset does not touch these)."""

    inspected: int = 0   # GO + NG
    go: int = 0
    ng: int = 0
    errors: int = 0      # ERROR answers
    refused: int = 0     # triggers refused by the handshake

    def add(self, verdict: str) -> None:
        if verdict == "ERROR":
            self.errors += 1
            return
        self.inspected += 1
        if verdict == "NG":
            self.ng += 1
        else:
            self.go += 1

    def as_dict(self) -> dict:
        return {"inspected": self.inspected, "go": self.go, "ng": self.ng, "errors": self.errors,
                "refused": self.refused}


@dataclass(frozen=True)
class PartResult:
    station: str
    verdict: str                  # GO / NG / ERROR
    trigger_source: str           # continuous / software / plc / mqtt / presence / interval
    trigger_id: int               # the PLC's TRIGGER value or the MQTT message's id (0 when none)
    part_id: str
    lot_id: str
    p_ng: float | None
    threshold: float | None
    model_id: str
    trigger_to_result_ms: float
    model_ms: float | None
    wall_time: float              # time.time() of the result
    frame_index: int | None
    counters: dict                # LineCounters.as_dict() after this result
    error_code: int = 0
    run_id: str = ""

    @property
    def error(self) -> str:
        return ERROR_TEXT.get(self.error_code, f"error {self.error_code}") if self.error_code else ""

    def message(self, seq: int) -> dict:
        """The MQTT message of this part (docs/line_io.md)."""
        when = datetime.fromtimestamp(self.wall_time, timezone.utc).isoformat(timespec="milliseconds")
        return {
            "station": self.station, "seq": seq, "part_id": self.part_id or None, "lot_id": self.lot_id or None,
            "verdict": self.verdict,
            "p_ng": None if self.p_ng is None else round(self.p_ng, 6),
            "threshold": None if self.threshold is None else round(self.threshold, 6),
            "model_id": self.model_id or None, "trigger": self.trigger_source, "trigger_id": self.trigger_id,
            "trigger_to_result_ms": round(self.trigger_to_result_ms, 3),
            "model_ms": None if self.model_ms is None else round(self.model_ms, 3),
            "time": when.replace("+00:00", "Z"), "frame_index": self.frame_index,
            "error_code": self.error_code, "error": self.error or None,
            "counters": self.counters, "run_id": self.run_id,
        }


@dataclass(frozen=True)
class OutputStatus:
    """One output's connection, for the Camera page and `fanqc inspect`'s JSON (never a password)."""

    name: str            # "modbus" / "mqtt"
    state: str           # modbus: listening / connected / failed / stopped;
    #                      mqtt: connecting / connected / disconnected / refused / stopped
    ok: bool             # working (green); False: the operator should look
    detail: str          # one line for people, e.g. "1 PLC connected on 0.0.0.0:502"
    waiting: int = 0     # MQTT: messages in the outbox not yet taken by the broker
    dropped: int = 0     # MQTT: messages dropped because the outbox was full

    def as_dict(self) -> dict:
        return {"state": self.state, "ok": self.ok, "detail": self.detail, "waiting": self.waiting,
                "dropped": self.dropped}


class LineIOError(FanQCError, RuntimeError):
    """An output cannot start (port in use, outbox locked by another station...); the message says what to do."""
