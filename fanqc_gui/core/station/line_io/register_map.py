"""The Modbus register map of the station (holding registers, function codes 3, 6 and 16).

Offsets count from the register base of the settings (a protocol address: base 0 is register 40001 in the
4xxxx notation). Registers 0-31 are the station's (read-only: a write is answered with exception 2, illegal
data address); 32-57 are the PLC's. PART_ID, LOT_ID and TRIGGER are adjacent, so one write (function 16)
of registers 33-57 hands over the part's identity and triggers in one request; starting at 32 it also
acknowledges the previous result. docs/line_io.md shows this table and the handshake.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# ---- station -> PLC (read-only) -----------------------------------------------------------------------------
HEARTBEAT = 0
TRIGGER_READY = 1
BUSY = 2
RESULT_VALID = 3
RESULT_ID = 4
RESULT_TRIGGER_ID = 5
VERDICT = 6
P_NG = 7
THRESHOLD = 8
ERROR_CODE = 9
LATENCY = 10
REFUSAL_CODE = 11
REFUSED_TRIGGER_ID = 12
CAMERA_OK = 13
INSPECTED = 14        # uint32: 14-15
GO_COUNT = 16         # 16-17
NG_COUNT = 18         # 18-19
ERROR_COUNT = 20      # 20-21
REFUSED_COUNT = 22    # 22-23
STATION_END = 32      # 24-31 reserved, read as 0
# ---- PLC -> station --------------------------------------------------------------------------------------
RESULT_ACK = 32
PART_ID = 33          # 16 registers, 32 characters
PART_ID_REGS = 16
LOT_ID = 49           # 8 registers, 16 characters
LOT_ID_REGS = 8
TRIGGER = 57
REGISTER_COUNT = 58

# ---- values ------------------------------------------------------------------------------------------------
VERDICT_NONE, VERDICT_GO, VERDICT_NG, VERDICT_ERROR = 0, 1, 2, 3
VERDICT_CODES = {"GO": VERDICT_GO, "NG": VERDICT_NG, "ERROR": VERDICT_ERROR}
SCALE = 10_000        # P_NG and THRESHOLD: value x 10000
LATENCY_UNIT_MS = 0.1  # LATENCY: tenths of a millisecond, 65535 = 6.5 s or more

# ERROR_CODE: why a result is ERROR (the part got no verdict; treat it as a reject)
ERR_NONE = 0
ERR_CAMERA_LOST = 1     # the camera had no picture when the trigger came, or lost it before a fresh frame
ERR_NO_FRAME = 2        # no frame taken after the trigger came within the frame timeout
ERR_STATION = 3         # judging failed (model or log error), or the station stopped with the trigger pending
ERR_QUEUE_FULL = 4      # MQTT triggers only: too many triggers waiting for a frame
# REFUSAL_CODE: why a trigger was not taken (no result is produced for it; the last result stays as it is)
REFUSED_NOT_ACKED = 10  # the previous result is still valid: the PLC has not written RESULT_ACK
REFUSED_BUSY = 11       # the previous trigger is still being judged
REFUSED_NOT_PLC = 12    # the station is not in the plc trigger mode (or is paused or stopping)

ERROR_TEXT = {
    ERR_NONE: "", ERR_CAMERA_LOST: "camera lost", ERR_NO_FRAME: "no frame after the trigger in time",
    ERR_STATION: "judging failed or the station stopped", ERR_QUEUE_FULL: "too many triggers waiting",
    REFUSED_NOT_ACKED: "previous result not acknowledged", REFUSED_BUSY: "previous trigger still being judged",
    REFUSED_NOT_PLC: "station not in PLC trigger mode",
}


@dataclass(frozen=True)
class Register:
    offset: int
    count: int
    name: str
    access: str   # "R" station -> PLC, "W" PLC -> station
    meaning: str


REGISTERS = (
    Register(HEARTBEAT, 1, "HEARTBEAT", "R", "counts up every 100 ms while the station's loop runs; stands "
                                             "still when it hangs (a PLC watchdog)"),
    Register(TRIGGER_READY, 1, "TRIGGER_READY", "R", "1: a trigger written now is taken (plc mode, camera OK, "
                                                     "nothing being judged, last result acknowledged)"),
    Register(BUSY, 1, "BUSY", "R", "1: a trigger was taken and its result is not out yet"),
    Register(RESULT_VALID, 1, "RESULT_VALID", "R", "1: the result registers hold a result not yet acknowledged"),
    Register(RESULT_ID, 1, "RESULT_ID", "R", "+1 for every result, 1..65535 then 1 again (0: none yet)"),
    Register(RESULT_TRIGGER_ID, 1, "RESULT_TRIGGER_ID", "R", "the TRIGGER value the result answers"),
    Register(VERDICT, 1, "VERDICT", "R", "1 GO, 2 NG, 3 ERROR (no verdict, see ERROR_CODE; reject the part)"),
    Register(P_NG, 1, "P_NG", "R", "P(NG) x 10000 (0 for ERROR)"),
    Register(THRESHOLD, 1, "THRESHOLD", "R", "the threshold x 10000 that judged the part"),
    Register(ERROR_CODE, 1, "ERROR_CODE", "R", "0, or why the result is ERROR: 1 camera lost, 2 no fresh frame "
                                               "in time, 3 judging failed or station stopping"),
    Register(LATENCY, 1, "LATENCY", "R", "trigger to result in 0.1 ms (65535: 6.5 s or more)"),
    Register(REFUSAL_CODE, 1, "REFUSAL_CODE", "R", "why the last refused trigger was refused: 10 previous result "
                                                   "not acknowledged, 11 busy, 12 not in plc mode"),
    Register(REFUSED_TRIGGER_ID, 1, "REFUSED_TRIGGER_ID", "R", "the TRIGGER value that was refused"),
    Register(CAMERA_OK, 1, "CAMERA_OK", "R", "1: frames are coming; 0: camera lost (a trigger gets ERROR 1)"),
    Register(INSPECTED, 2, "INSPECTED", "R", "parts judged GO or NG (uint32, high word first)"),
    Register(GO_COUNT, 2, "GO_COUNT", "R", "GO results (uint32)"),
    Register(NG_COUNT, 2, "NG_COUNT", "R", "NG results (uint32)"),
    Register(ERROR_COUNT, 2, "ERROR_COUNT", "R", "ERROR results (uint32)"),
    Register(REFUSED_COUNT, 2, "REFUSED_COUNT", "R", "refused triggers (uint32)"),
    Register(24, 8, "reserved", "R", "read as 0"),
    Register(RESULT_ACK, 1, "RESULT_ACK", "W", "write non-zero: result taken; RESULT_VALID goes to 0 (reads "
                                               "back 0)"),
    Register(PART_ID, PART_ID_REGS, "PART_ID", "W", "part id, ASCII, 2 characters a register (high byte first), "
                                                    "NUL-padded, 32 characters; taken with the trigger, then 0"),
    Register(LOT_ID, LOT_ID_REGS, "LOT_ID", "W", "lot id, as PART_ID, 16 characters; taken with the trigger, "
                                                 "then 0"),
    Register(TRIGGER, 1, "TRIGGER", "W", "write a non-zero trigger id (e.g. the PLC's part counter): judge the "
                                         "part; reads back 0 once taken or refused"),
)


# ---- encoding helpers ------------------------------------------------------------------------------------
def u32(value: int) -> list[int]:
    """A counter as two registers, high word first (saturates at 2^32 - 1)."""
    value = max(0, min(int(value), 0xFFFFFFFF))
    return [value >> 16, value & 0xFFFF]


def from_u32(high: int, low: int) -> int:
    return (high << 16) | low


def scaled(value: float | None) -> int:
    """P(NG) or a threshold in [0, 1] as value x 10000."""
    if value is None or math.isnan(value):
        return 0
    return max(0, min(SCALE, int(round(float(value) * SCALE))))


def latency_register(ms: float) -> int:
    return max(0, min(0xFFFF, int(round(ms / LATENCY_UNIT_MS))))


def text_to_registers(text: str, count: int) -> list[int]:
    """ASCII text, two characters a register (high byte first), NUL-padded to count registers."""
    data = text.encode("ascii", "replace")[:count * 2].ljust(count * 2, b"\0")
    return [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]


def registers_to_text(registers: list[int]) -> str:
    """The text a PLC wrote: up to the first NUL, printable ASCII only (anything else becomes '?')."""
    data = bytearray()
    for reg in registers:
        data += bytes(((reg >> 8) & 0xFF, reg & 0xFF))
    data = data.split(b"\0", 1)[0]
    return "".join(chr(b) if 32 <= b < 127 else "?" for b in data).strip()
