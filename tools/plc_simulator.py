"""A PLC on the bench: triggers a FanQC station part by part over Modbus TCP and prints each verdict.

usage: python tools/plc_simulator.py --port 5020 [--host 127.0.0.1] [--base 0] [--parts 10] [--lot LOT]
                                     [--gap-ms 0] [--no-ack] [--json]

It does what a PLC program does with the station's registers (docs/line_io.md), nothing more: wait for
TRIGGER_READY, write PART_ID + LOT_ID + TRIGGER in one request (function 16), poll RESULT_VALID until the
result of this trigger is there, read VERDICT / P_NG / ERROR_CODE, write RESULT_ACK. Start the station first:
    fanqc inspect --source 0 --trigger plc --modbus 5020
--no-ack shows the station's answer to a PLC that never acknowledges (the next trigger is refused, code 10).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymodbus.client import ModbusTcpClient

from fanqc_gui.core.station.line_io import register_map as rm  # the map itself: offsets, codes

VERDICTS = {rm.VERDICT_GO: "GO", rm.VERDICT_NG: "NG", rm.VERDICT_ERROR: "ERROR"}


class PlcSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 502, base: int = 0, timeout_s: float = 5.0):
        self.base, self.timeout_s = base, timeout_s
        self.client = ModbusTcpClient(host, port=port, timeout=3, retries=1)
        if not self.client.connect():
            raise SystemExit(f"plc_simulator: no Modbus server at {host}:{port} (start the station with "
                             f"`fanqc inspect --trigger plc --modbus {port}`)")

    def read(self) -> list[int]:
        r = self.client.read_holding_registers(self.base, count=rm.REGISTER_COUNT)
        if r.isError():
            raise RuntimeError(f"read failed: {r}")
        return r.registers

    def wait_ready(self) -> list[int]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            regs = self.read()
            if regs[rm.TRIGGER_READY] or time.monotonic() > deadline:
                return regs
            time.sleep(0.0005)

    def part(self, trigger_id: int, part_id: str = "", lot_id: str = "", ack: bool = True) -> dict:
        """One part: trigger, wait for its result, acknowledge. ms: trigger write to result read."""
        values = (rm.text_to_registers(part_id, rm.PART_ID_REGS) + rm.text_to_registers(lot_id, rm.LOT_ID_REGS)
                  + [trigger_id & 0xFFFF])
        t0 = time.perf_counter()
        w = self.client.write_registers(self.base + rm.PART_ID, values)
        if w.isError():
            raise RuntimeError(f"trigger write failed: {w}")
        deadline = time.monotonic() + self.timeout_s
        while True:
            regs = self.read()
            if regs[rm.RESULT_VALID] and regs[rm.RESULT_TRIGGER_ID] == trigger_id & 0xFFFF:
                ms = (time.perf_counter() - t0) * 1000.0
                break
            if regs[rm.REFUSED_TRIGGER_ID] == trigger_id & 0xFFFF and regs[rm.REFUSAL_CODE]:
                return {"trigger_id": trigger_id, "part_id": part_id, "verdict": "REFUSED",
                        "refusal": regs[rm.REFUSAL_CODE], "why": rm.ERROR_TEXT.get(regs[rm.REFUSAL_CODE], "")}
            if time.monotonic() > deadline:
                return {"trigger_id": trigger_id, "part_id": part_id, "verdict": "TIMEOUT"}
        if ack:
            self.client.write_register(self.base + rm.RESULT_ACK, 1)
        code = regs[rm.ERROR_CODE]
        return {"trigger_id": trigger_id, "part_id": part_id, "verdict": VERDICTS.get(regs[rm.VERDICT], "?"),
                "p_ng": regs[rm.P_NG] / rm.SCALE, "error": code, "why": rm.ERROR_TEXT.get(code, ""),
                "result_id": regs[rm.RESULT_ID], "ms": round(ms, 3),
                "station_ms": round(regs[rm.LATENCY] * rm.LATENCY_UNIT_MS, 1)}

    def close(self) -> None:
        self.client.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=502)
    ap.add_argument("--base", type=int, default=0, help="the station's register base")
    ap.add_argument("--parts", type=int, default=10)
    ap.add_argument("--lot", default="LOT-1")
    ap.add_argument("--gap-ms", type=float, default=0.0, help="pause between parts")
    ap.add_argument("--no-ack", action="store_true", help="never acknowledge (see the station refuse)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object with the counts")
    args = ap.parse_args()
    plc = PlcSimulator(args.host, args.port, args.base)
    counts: dict[str, int] = {}
    times = []
    try:
        for n in range(1, args.parts + 1):
            regs = plc.wait_ready()
            if not regs[rm.TRIGGER_READY]:
                print(f"part {n}: station not ready (camera ok {regs[rm.CAMERA_OK]}, busy {regs[rm.BUSY]}, "
                      f"result waiting for ack {regs[rm.RESULT_VALID]}); triggering anyway")
            r = plc.part(n, f"PART-{n:05d}", args.lot, ack=not args.no_ack)
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
            if "ms" in r:
                times.append(r["ms"])
                extra = f" p(NG)={r['p_ng']:.4f}" if r["verdict"] != "ERROR" else f" error {r['error']}: {r['why']}"
                print(f"part {n} {r['part_id']}: {r['verdict']}{extra} ({r['ms']:.2f} ms, station "
                      f"{r['station_ms']:.1f} ms)")
            else:
                print(f"part {n} {r['part_id']}: {r['verdict']} {r.get('refusal', '')} {r.get('why', '')}".rstrip())
            if args.gap_ms:
                time.sleep(args.gap_ms / 1000.0)
    finally:
        plc.close()
    times.sort()
    summary = {"parts": args.parts, **{k.lower(): v for k, v in counts.items()},
               "p50_ms": times[len(times) // 2] if times else None,
               "max_ms": times[-1] if times else None}
    print(json.dumps(summary) if args.json else f"{args.parts} parts: {counts}; trigger to result p50 "
                                                 f"{summary['p50_ms']} ms, max {summary['max_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
