"""The station as a Modbus TCP server (pymodbus): the PLC triggers, reads the result and acknowledges it.

Handshake (register names from register_map.py; docs/line_io.md has the timing chart):
  1. TRIGGER_READY = 1. The PLC may write PART_ID / LOT_ID, then a non-zero TRIGGER (one request can do both).
  2. The station takes the trigger at once: BUSY = 1, TRIGGER_READY = 0, TRIGGER / PART_ID / LOT_ID read 0.
  3. The first frame taken after the trigger is judged. The result registers are written and RESULT_VALID = 1,
     BUSY = 0 in one step (a PLC read never sees half a result).
  4. The PLC reads the result and writes RESULT_ACK: RESULT_VALID = 0, TRIGGER_READY = 1.
Defined answers:
  - no ack: the result stays valid and readable; a trigger is refused (REFUSAL_CODE 10) until the ack, or
    until ack_timeout_ms when set (then RESULT_VALID goes to 0 by itself, counted in ack_timeouts);
  - a second trigger while one is judged: refused (REFUSAL_CODE 11); the first one's result comes as usual;
  - a trigger while the camera is lost (CAMERA_OK = 0, TRIGGER_READY = 0): taken, and answered at once with
    VERDICT 3 (ERROR), ERROR_CODE 1; no fresh frame within the frame timeout: ERROR_CODE 2;
  - a trigger when the station is not in plc mode: refused (REFUSAL_CODE 12);
  - a write to the station's registers (0-31): exception 2 (illegal data address).
A refusal produces no result: the result registers keep the last result. REFUSED_TRIGGER_ID tells which
trigger was refused.

The registers live in the server; the handshake state lives here, under one lock. pymodbus calls `_action`
(SimDevice's documented hook) before every request is served, on its own thread: it applies the PLC's writes
to that state and copies the state into the registers, so a read always returns one consistent snapshot.
The station's loop only calls post() / set_*() / touch(), which take the same lock for microseconds.
"""
from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from typing import Callable

from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.station.line_io.results import LineIOError, OutputStatus, PartResult
from fanqc_gui.core.station.line_io.triggers import PLC, Trigger

STARTUP_TIMEOUT_S = 10.0


class ModbusHandshake:
    def __init__(self, host: str = "0.0.0.0", port: int = 502, register_base: int = 0, *,
                 on_trigger: Callable[[Trigger], bool] | None = None, ack_timeout_ms: int = 0,
                 clock: Callable[[], float] = time.monotonic):
        self.host, self.port, self.base = host, port, register_base
        self._on_trigger = on_trigger or (lambda trigger: True)
        self._ack_timeout_s = ack_timeout_ms / 1000.0
        self._clock = clock
        self._lock = threading.Lock()
        self._regs = [0] * rm.REGISTER_COUNT
        self._accepting = False      # plc trigger mode and running
        self._camera_ok = True
        self._busy = False
        self._result_valid = False
        self._result_at = 0.0
        self._alive_at = -1e9
        self.results = 0
        self.refused = 0
        self.ack_timeouts = 0
        self.clients = 0
        self._state = "stopped"
        self._error = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._started = threading.Event()
        with self._lock:
            self._update_flags()

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen for the PLC; LineIOError (with the reason) when the address cannot be used."""
        self._check_port_free()
        self._started.clear()
        self._thread = threading.Thread(target=self._serve, name="fanqc-modbus", daemon=True)
        self._thread.start()
        if not self._started.wait(STARTUP_TIMEOUT_S) or self._state != "listening":
            self.stop()
            raise LineIOError(f"the Modbus server did not start on {self.address}: {self._error or 'timed out'}")

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._accepting = False
            self._update_flags()
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - the loop may be ending already; the thread is joined below
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._server = self._loop = None
        if self._state != "failed":
            self._state = "stopped"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _check_port_free(self) -> None:
        """pymodbus only logs a failed listen; try the address first to say exactly why it cannot be used."""
        if self.port == 0:
            return
        probe = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.host, self.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "the port is in use (another station or program listens there)"
            elif exc.errno == errno.EACCES:
                why = "ports below 1024 need administrator rights here (use e.g. 5020, or allow it)"
            elif exc.errno == errno.EADDRNOTAVAIL:
                why = "this computer has no such address"
            else:
                why = exc.strerror or str(exc)
            self._state, self._error = "failed", why
            raise LineIOError(f"cannot listen for the PLC on {self.address}: {why}") from None
        except socket.gaierror as exc:
            self._state, self._error = "failed", str(exc)
            raise LineIOError(f"cannot listen for the PLC on {self.address}: unknown address") from None
        finally:
            probe.close()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # noqa: BLE001 - reported through status() and start()
            self._state, self._error = "failed", str(exc) or type(exc).__name__
        finally:
            self._started.set()

    async def _main(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        station, plc = rm.STATION_END, rm.REGISTER_COUNT - rm.STATION_END
        device = SimDevice(0, simdata=[   # id 0: answer whatever unit id the PLC uses
            SimData(self.base, count=station, values=0, datatype=DataType.REGISTERS, readonly=True),
            SimData(self.base + station, count=plc, values=0, datatype=DataType.REGISTERS)],
            action=self._action)
        server = ModbusTcpServer(device, address=(self.host, self.port), trace_connect=self._on_connection)
        self._loop = asyncio.get_running_loop()
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            self._state, self._error = "failed", str(exc)
            return
        self.port = server.transport.sockets[0].getsockname()[1]
        self._server = server
        self._state = "listening"
        self._started.set()
        await server.serving

    def _on_connection(self, connected: bool) -> None:
        self.clients = max(0, self.clients + (1 if connected else -1))

    # ---- the station's loop ----------------------------------------------------------------------------
    def set_accepting(self, accepting: bool) -> None:
        """Whether PLC triggers are taken (the plc trigger mode, station running)."""
        with self._lock:
            self._accepting = accepting
            self._update_flags()

    def set_camera_ok(self, ok: bool) -> None:
        with self._lock:
            if ok != self._camera_ok:
                self._camera_ok = ok
                self._update_flags()

    def touch(self) -> None:
        """The station's loop is alive (the heartbeat counts while it calls this); also ends overdue acks."""
        now = self._clock()
        with self._lock:
            self._alive_at = now
            self._expire_ack(now)

    def post(self, result: PartResult) -> int:
        """Put a result in the registers (RESULT_VALID = 1); returns its RESULT_ID."""
        now = self._clock()
        r = self._regs
        with self._lock:
            result_id = r[rm.RESULT_ID] % 0xFFFF + 1
            r[rm.RESULT_ID] = result_id
            r[rm.RESULT_TRIGGER_ID] = result.trigger_id & 0xFFFF if result.trigger_source == PLC else 0
            r[rm.VERDICT] = rm.VERDICT_CODES[result.verdict]
            r[rm.P_NG] = rm.scaled(result.p_ng)
            r[rm.THRESHOLD] = rm.scaled(result.threshold)
            r[rm.ERROR_CODE] = result.error_code
            r[rm.LATENCY] = rm.latency_register(result.trigger_to_result_ms)
            c = result.counters
            for offset, value in ((rm.INSPECTED, c["inspected"]), (rm.GO_COUNT, c["go"]), (rm.NG_COUNT, c["ng"]),
                                  (rm.ERROR_COUNT, c["errors"])):
                r[offset:offset + 2] = rm.u32(value)
            self._result_valid, self._result_at = True, now
            if result.trigger_source == PLC:
                self._busy = False
            self.results += 1
            self._update_flags()
        return result_id

    def registers(self) -> list[int]:
        """A copy of the registers as the PLC would read them now (for tests and the status view)."""
        with self._lock:
            return list(self._regs)

    def status(self) -> OutputStatus:
        if self._state == "listening":
            plcs = f"{self.clients} PLC{'s' if self.clients != 1 else ''} connected" if self.clients else \
                "no PLC connected"
            return OutputStatus("modbus", "connected" if self.clients else "listening", self.clients > 0,
                                f"{plcs} on {self.address}")
        if self._state == "failed":
            return OutputStatus("modbus", "failed", False, f"not listening on {self.address}: {self._error}")
        return OutputStatus("modbus", "stopped", False, "stopped")

    # ---- under the lock --------------------------------------------------------------------------------
    def _update_flags(self) -> None:
        r = self._regs
        ready = (self._accepting and self._camera_ok and not self._busy and not self._result_valid)
        r[rm.TRIGGER_READY] = int(ready)
        r[rm.BUSY] = int(self._busy)
        r[rm.RESULT_VALID] = int(self._result_valid)
        r[rm.CAMERA_OK] = int(self._camera_ok)
        r[rm.REFUSED_COUNT:rm.REFUSED_COUNT + 2] = rm.u32(self.refused)

    def _expire_ack(self, now: float) -> None:
        if self._result_valid and self._ack_timeout_s and now - self._result_at >= self._ack_timeout_s:
            self._result_valid = False
            self.ack_timeouts += 1
            self._update_flags()

    def _refuse(self, code: int, trigger_id: int) -> None:
        self._regs[rm.REFUSAL_CODE] = code
        self._regs[rm.REFUSED_TRIGGER_ID] = trigger_id
        self.refused += 1

    def _take_trigger(self, trigger_id: int, now: float) -> Trigger | None:
        if not self._accepting:
            self._refuse(rm.REFUSED_NOT_PLC, trigger_id)
        elif self._busy:
            self._refuse(rm.REFUSED_BUSY, trigger_id)
        elif self._result_valid:
            self._refuse(rm.REFUSED_NOT_ACKED, trigger_id)
        else:
            r = self._regs
            part = rm.registers_to_text(r[rm.PART_ID:rm.PART_ID + rm.PART_ID_REGS])
            lot = rm.registers_to_text(r[rm.LOT_ID:rm.LOT_ID + rm.LOT_ID_REGS])
            r[rm.PART_ID:rm.PART_ID + rm.PART_ID_REGS] = [0] * rm.PART_ID_REGS
            r[rm.LOT_ID:rm.LOT_ID + rm.LOT_ID_REGS] = [0] * rm.LOT_ID_REGS
            self._busy = True
            return Trigger(PLC, now, part, lot, trigger_id)
        return None

    async def _action(self, function_code, start_address, address, count, registers, set_values) -> None:
        """Called by pymodbus before it serves a request (reads: set_values None); returning None lets the
        request go on (an exception code would refuse it)."""
        trigger = None
        with self._lock:
            now = self._clock()
            self._expire_ack(now)
            r = self._regs
            if set_values is not None:  # only the PLC's registers get here: the others are read-only
                first = address - start_address
                r[first:first + len(set_values)] = [int(v) & 0xFFFF for v in set_values]
                if first <= rm.RESULT_ACK < first + len(set_values) and r[rm.RESULT_ACK]:
                    self._result_valid = False  # acknowledged (an ack with nothing valid changes nothing)
                r[rm.RESULT_ACK] = 0
                if first <= rm.TRIGGER < first + len(set_values) and r[rm.TRIGGER]:
                    trigger = self._take_trigger(r[rm.TRIGGER], now)
                r[rm.TRIGGER] = 0
                set_values[:] = r[first:first + len(set_values)]  # what pymodbus stores after this hook
            if now - self._alive_at < 1.0:
                r[rm.HEARTBEAT] = int(now * 10) & 0xFFFF
            self._update_flags()
            registers[:rm.REGISTER_COUNT] = r
        # outside the lock (the station's queue has its own); a trigger the station does not take after all
        # (its mode changed this instant) is refused, so BUSY never stays on
        if trigger is not None and not self._on_trigger(trigger):
            with self._lock:
                self._busy = False
                self._refuse(rm.REFUSED_NOT_PLC, trigger.trigger_id)
                self._update_flags()
