"""Real servers for the line I/O tests: Debian's mosquitto on a free loopback port (started and stopped by the
test), an MQTT subscriber (paho), and a PLC played by a pymodbus client. Nothing here fakes a protocol.

mosquitto missing: the tests that need it are skipped with the reason, except under CI (CI set), where
that is a failure (`.ci/run` installs it through tools/install-system-packages.sh --tests).
"""
from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fanqc_gui.core.station.line_io import register_map as rm

MOSQUITTO = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
                                               if Path(p).is_file()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Broker:
    """One mosquitto process on 127.0.0.1:port with its own config file; restartable on the same port."""

    def __init__(self, folder: Path, port: int | None = None, persistence: bool = False,
                 users: dict[str, str] | None = None):
        if MOSQUITTO is None:
            message = "mosquitto is not installed (apt-get install mosquitto, or tools/install-system-packages.sh " \
                      "--tests)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        # run as whoever runs the tests (as root mosquitto would switch to the user "mosquitto", which cannot
        # write its persistence file into the test's folder)
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {'false' if users else 'true'}", "max_queued_messages 0",
                 "max_inflight_messages 0", f"persistence {'true' if persistence else 'false'}"]
        if persistence:
            lines += [f"persistence_location {folder}/", "autosave_interval 1"]
        if users:  # only these users, with mosquitto's own hashed password file
            passwd = folder / "passwd"
            passwd.write_text("")
            for name, password in users.items():
                subprocess.run([shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-b", str(passwd), name,
                                password], check=True, capture_output=True)
            passwd.chmod(0o600)
            lines += [f"password_file {passwd}"]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "mosquitto.log", "ab"))
        self.starts += 1
        if not wait_for(self._accepts, timeout=10.0, step=0.01):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: "
                               f"{(self.folder / 'mosquitto.log').read_text()[-500:]}")
        return self

    def _accepts(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


class Subscriber:
    """A paho client that keeps every message of its topics (payloads parsed as JSON when they are)."""

    def __init__(self, port: int, topics: list[str], client_id: str = "", clean: bool = True,
                 username: str = "", password: str = ""):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, object, bool]] = []   # (topic, payload, retained)
        self.redelivered = 0                                  # messages that came with the DUP flag
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{id(self)}",
                                  clean_session=clean)
        self.client.reconnect_delay_set(0.05, 0.5)
        if username:
            self.client.username_pw_set(username, password)
        self.topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscriber did not get its subscription"

    def _on_connect(self, client, userdata, flags, reason, props):
        client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, message):
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = message.payload.decode("utf-8", "replace")
        with self._lock:
            self.messages.append((message.topic, payload, bool(message.retain)))
            self.redelivered += bool(message.dup)

    def on(self, topic: str) -> list:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Plc:
    """The PLC's side of the handshake, as a PLC program does it: registers only, through a real client."""

    def __init__(self, port: int, base: int = 0):
        from pymodbus.client import ModbusTcpClient

        self.base = base
        self.client = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        assert self.client.connect(), f"no Modbus server on port {port}"

    def read(self) -> list[int]:
        r = self.client.read_holding_registers(self.base, count=rm.REGISTER_COUNT)
        assert not r.isError(), r
        return list(r.registers)

    def trigger(self, trigger_id: int, part_id: str = "", lot_id: str = ""):
        """Part and lot id and the trigger in one request (function 16)."""
        values = (rm.text_to_registers(part_id, rm.PART_ID_REGS) + rm.text_to_registers(lot_id, rm.LOT_ID_REGS)
                  + [trigger_id])
        return self.client.write_registers(self.base + rm.PART_ID, values)

    def ack(self):
        return self.client.write_register(self.base + rm.RESULT_ACK, 1)

    def wait(self, register: int, value: int, timeout: float = 10.0) -> list[int]:
        regs: list[int] = []

        def check():
            regs[:] = self.read()
            return regs[register] == value
        assert wait_for(check, timeout, 0.0005), f"register {register} never became {value}: {regs}"
        return regs

    def result(self, regs: list[int]) -> dict:
        return {"valid": regs[rm.RESULT_VALID], "id": regs[rm.RESULT_ID], "trigger_id": regs[rm.RESULT_TRIGGER_ID],
                "verdict": {1: "GO", 2: "NG", 3: "ERROR"}.get(regs[rm.VERDICT]), "p_ng": regs[rm.P_NG] / rm.SCALE,
                "error": regs[rm.ERROR_CODE], "refusal": regs[rm.REFUSAL_CODE],
                "refused_id": regs[rm.REFUSED_TRIGGER_ID], "ready": regs[rm.TRIGGER_READY], "busy": regs[rm.BUSY],
                "camera_ok": regs[rm.CAMERA_OK], "latency_ms": regs[rm.LATENCY] * rm.LATENCY_UNIT_MS,
                "inspected": rm.from_u32(*regs[rm.INSPECTED:rm.INSPECTED + 2]),
                "errors": rm.from_u32(*regs[rm.ERROR_COUNT:rm.ERROR_COUNT + 2]),
                "refused": rm.from_u32(*regs[rm.REFUSED_COUNT:rm.REFUSED_COUNT + 2])}

    def close(self) -> None:
        self.client.close()


class LineRun:
    """A station on the line judging in its own thread, as `fanqc inspect` runs it: the Station is built in that
    thread (its model and log belong to it), the loop is core's run_line_station."""

    def __init__(self, workspace, store, settings, mode: str, source_spec, *, capture_factory=None,
                 predictor_factory=None, loop: bool = True):
        from fanqc_gui.core.station.camera_sources import open_source
        from fanqc_gui.core.station.frame_grabber import FrameGrabber

        self._args = (workspace, store, settings, mode, predictor_factory)
        self.grabber = FrameGrabber(open_source(source_spec, capture_factory), loop=loop)
        self.live = source_spec.live
        self.line = None
        self.summary = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-line-station", daemon=True)
        self._thread.start()
        assert self._ready.wait(60), "the station did not start"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        from fanqc_gui.core.station.line_station import LineStation, run_line_station
        from fanqc_gui.core.station.pipeline import Station

        workspace, store, settings, mode, factory = self._args
        try:
            station = Station(workspace, store, settings, source="test", predictor_factory=factory)
            self.line = LineStation(station, mode, settings.line_io, live=self.live,
                                    frame_period_s=0.01 if self.live else 0.0)
            self.line.start()
            self.grabber.start()
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread
            self.error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self.summary = run_line_station(self.line, self.grabber, should_stop=self._stop.is_set)
        finally:
            self.line.stop()
            station.close()

    @property
    def station(self):
        return self.line.station

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the station loop did not stop"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
