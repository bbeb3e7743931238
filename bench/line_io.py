"""Line I/O benchmark: a PLC (pymodbus client) or an MQTT client triggers `fanqc inspect` part by part on a generated
video; a paho subscriber receives the result messages through a real mosquitto; the inspection log is checked.

usage: python bench/line_io.py [--parts 10000] [--trigger plc|mqtt] [--restart-broker N] [--signal kill|term]
                               [--model MODEL_DIR]

The station runs as deployed: `fanqc inspect --trigger plc --modbus ... --mqtt ...` in its own process, judging
a looped 640x480 MJPG video of demo parts with a small trained model (or --model). Per part:
  plc  : the PLC waits for TRIGGER_READY, writes PART_ID + LOT_ID + TRIGGER, polls until RESULT_VALID shows
         this trigger (trigger_to_result: the write to the poll that saw it), reads the verdict, acks;
  mqtt : the client publishes {"part_id", "id"} to <prefix>/<station>/trigger (trigger_to_result: the
         publish to the arrival of that part's result message at the subscriber).
beyond_model subtracts each part's own model time (model_ms of its message) from trigger_to_result.
--restart-broker N kills mosquitto N times during the run (SIGKILL by default: the plug pulled) and starts it
again on the same port after --down-ms; then every verdict must still arrive, once, in order. The
subscriber is the documented consumer: a persistent session (clean session off, fixed id, QoS 1) on a
broker with persistence on. The station's memory (RSS) is sampled from 10% of the run to the end.
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PART_ROI = "220,140,200,200"  # where write_demo_video puts each part
STATION = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(round(q / 100.0 * len(s) + 0.5)) - 1))], 3)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class Broker:
    def __init__(self, folder: Path):
        import getpass
        import shutil

        self.exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.exe).is_file():
            raise SystemExit("bench/line_io.py needs mosquitto (apt-get install mosquitto)")
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "m.conf").write_text("\n".join([
            f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1", "allow_anonymous true",
            "max_queued_messages 0", "max_inflight_messages 0", "persistence true",
            f"persistence_location {folder}/", "autosave_interval 1"]) + "\n")
        self.proc = None
        self.restarts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.folder / "m.conf")], stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "mosquitto.log", "ab"))
        if not wait_for(lambda: listening(self.port), 10):
            raise SystemExit(f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()[-400:]}")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    """The consumer of the result messages: persistent session, QoS 1; keeps (seq, part_id, arrival)."""

    def __init__(self, port: int, topic: str):
        import paho.mqtt.client as mqtt

        self.got: list[tuple[int, str, float, float]] = []  # seq, part id, perf_counter at arrival, model_ms
        self.dup_flagged: set[int] = set()                    # seqs that came with the DUP flag (broker resent)
        self.by_part: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-consumer", clean_session=False)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise SystemExit("the subscriber could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        doc = json.loads(message.payload)
        with self._lock:
            self.got.append((doc["seq"], doc["part_id"] or "", now, doc.get("model_ms") or 0.0))
            if message.dup:
                self.dup_flagged.add(doc["seq"])
            event = self.by_part.get(doc["part_id"] or "")
        if event is not None:
            event.set()

    def arrival(self, part_id: str) -> float:
        with self._lock:
            return next(t for _, p, t, _ in reversed(self.got) if p == part_id)

    def expect(self, part_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self.by_part[part_id] = event
        return event

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_model(tmp: Path, model_dir: str | None):
    from fanqc_gui.core.models.model_store import ModelStore

    if model_dir:
        store = ModelStore(Path(model_dir).parent)
        return store, store.get(model_dir)
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.training.trainer import TrainOptions, train

    generate_demo_workspace(tmp / "train-ws", per_class=40, inbox=0, seed=11, size=96)
    store = ModelStore(tmp / "models")
    result = train(open_workspace(tmp / "train-ws"), store, TrainOptions(preset="reference", image_size=48, epochs=2),
                   name="line bench model", use_disk_cache=False)
    return store, result.model


def run_plc(port: int, parts: int, sub: Subscriber, on_part) -> tuple[list[float], list[float], dict]:
    from plc_simulator import PlcSimulator

    plc = PlcSimulator("127.0.0.1", port, timeout_s=10.0)
    plc_ms, mqtt_ms, counts = [], [], {}
    try:
        for n in range(1, parts + 1):
            plc.wait_ready()
            part_id = f"B{n:06d}"
            arrived = sub.expect(part_id)
            t0 = time.perf_counter()
            r = plc.part(n, part_id, "BENCH")
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
            if "ms" in r:
                plc_ms.append((part_id, r["ms"]))
            if arrived.wait(0.05):  # while the broker is up the message is there within milliseconds
                mqtt_ms.append((sub.arrival(part_id) - t0) * 1000.0)
            on_part(n)
    finally:
        plc.close()
    return plc_ms, mqtt_ms, counts


def run_mqtt(port: int, parts: int, sub: Subscriber, on_part) -> tuple[list[float], list[float], dict]:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-mes")
    client.reconnect_delay_set(0.05, 0.5)
    client.connect("127.0.0.1", port, keepalive=5)
    client.loop_start()
    mqtt_ms, counts = [], {"sent": 0, "late": 0}
    try:
        for n in range(1, parts + 1):
            part_id = f"B{n:06d}"
            arrived = sub.expect(part_id)
            t0 = time.perf_counter()
            client.publish(f"fanqc/{STATION}/trigger", json.dumps({"part_id": part_id, "id": n}), qos=1)
            counts["sent"] += 1
            if arrived.wait(2.0):   # a trigger published while the broker was away never reaches the station
                mqtt_ms.append((part_id, (sub.arrival(part_id) - t0) * 1000.0))
            else:
                counts["late"] += 1
            on_part(n)
    finally:
        client.disconnect()
        client.loop_stop()
    return mqtt_ms, [ms for _, ms in mqtt_ms], counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", type=int, default=10_000)
    ap.add_argument("--trigger", choices=("plc", "mqtt"), default="plc")
    ap.add_argument("--restart-broker", type=int, default=0, metavar="N", help="kill and restart mosquitto N times")
    ap.add_argument("--signal", choices=("kill", "term"), default="kill", help="how the broker is stopped")
    ap.add_argument("--down-ms", type=float, default=300.0, help="how long the broker stays away each time")
    ap.add_argument("--model", help="a model folder (default: a small model trained here in ~20 s)")
    args = ap.parse_args()

    from fanqc_gui.core.dataset.demo_data import write_demo_video
    from fanqc_gui.core.station.inspection_log import InspectionLog

    with tempfile.TemporaryDirectory(prefix="fanqc-line-bench-") as tmp:
        tmp = Path(tmp)
        store, info = make_model(tmp, args.model)
        video = tmp / "conveyor.avi"
        write_demo_video(video, parts=60, frames_per_part=6, frame_size=(640, 480))
        (tmp / "ws").mkdir()
        broker = Broker(tmp / "broker")
        broker.start()
        sub = Subscriber(broker.port, f"fanqc/{STATION}/result")
        modbus_port = free_port()
        argv = [sys.executable, "-m", "fanqc_gui.cli", "inspect", "--source", str(video), "--loop", "--roi", PART_ROI,
                "--workspace", str(tmp / "ws"), "--models", str(store.root), "--model", str(info.folder),
                "--no-captures", "--json", "--quiet", "--trigger", args.trigger, "--line-name", STATION,
                "--mqtt", f"127.0.0.1:{broker.port}", "--threads", "1"]
        if args.trigger == "plc":
            argv += ["--modbus", f"127.0.0.1:{modbus_port}"]
        station = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        started = (lambda: listening(modbus_port)) if args.trigger == "plc" else \
            (lambda: (tmp / "ws" / ".fanqc" / f"mqtt-outbox-{STATION}.sqlite").exists())
        if not wait_for(lambda: started() or station.poll() is not None, 180) or station.poll() is not None:
            raise SystemExit(f"the station did not start: {station.communicate()[1][-2000:]}")
        time.sleep(0.5)  # the MQTT client connects

        restart_every = args.parts // (args.restart_broker + 1) if args.restart_broker else 0
        rss: list[tuple[int, float]] = []
        restarts = []
        sig = signal.SIGKILL if args.signal == "kill" else signal.SIGTERM

        def restart_broker() -> None:
            broker.stop(sig)
            time.sleep(args.down_ms / 1000.0)
            broker.start()

        restarter: list[threading.Thread] = []

        def on_part(n: int) -> None:
            if n % 200 == 0 and (mb := rss_mb(station.pid)) is not None:
                rss.append((n, mb))
            if restart_every and n % restart_every == 0 and len(restarts) < args.restart_broker:
                restarts.append(n)
                t = threading.Thread(target=restart_broker)  # the line goes on while the broker is away
                t.start()
                restarter.append(t)

        t_start = time.perf_counter()
        runner = run_plc if args.trigger == "plc" else run_mqtt
        observed, mqtt_ms, counts = runner(modbus_port if args.trigger == "plc" else broker.port, args.parts, sub,
                                           on_part)
        seconds = time.perf_counter() - t_start
        for t in restarter:
            t.join()
        wait_for(lambda: len({s for s, *_ in sub.got}) >= args.parts, 120, 0.05)
        time.sleep(1.0)  # late duplicates, if any, arrive too
        station.send_signal(signal.SIGTERM)
        out, err = station.communicate(timeout=120)
        try:
            doc = json.loads(out)
        except ValueError:
            raise SystemExit(f"the station ended without its JSON: {err[-2000:]}") from None
        sub.close()
        broker.stop()

        seqs = [s for s, *_ in sub.got]
        unique = set(seqs)
        part_ids = [p for _, p, _, _ in sub.got]
        first_seen: dict[int, int] = {}
        for i, s in enumerate(seqs):
            first_seen.setdefault(s, i)
        ordered = sorted(unique, key=lambda s: first_seen[s])
        accepted, last = [], 0  # what a consumer keeping the last seq (docs/line_io.md) takes
        for s_ in seqs:
            if s_ > last:
                accepted.append(s_)
                last = s_
        counted: dict[int, int] = {}
        for s_ in seqs:
            counted[s_] = counted.get(s_, 0) + 1
        twice = {s_ for s_, c in counted.items() if c > 1}
        model_ms = {p: m for _, p, _, m in sub.got}
        beyond = [ms - model_ms.get(part_id, 0.0) for part_id, ms in observed]
        observed = [ms for _, ms in observed]
        log = InspectionLog.for_workspace(tmp / "ws")
        rows = log.recent(args.parts + 10, run_id=doc["run_id"])[::-1]
        log.close()
        li = doc["line_io"]
        judged = li["inspected"] + li["errors"]   # results the station produced (one message each)
        delivered_parts = [p for s_, p, _, _ in sorted({(s_, p, 0, 0) for s_, p, _, _ in sub.got})]
        warm = [mb for n, mb in rss if n >= args.parts // 10]
        second_half = [mb for n, mb in rss if n >= args.parts // 2]
        print(json.dumps({
            "parts": args.parts, "trigger": args.trigger, "judged": judged,
            # MQTT triggers published in the instant the broker was killed never reach the station (its trigger
            # subscription is a clean session on purpose: a late trigger would judge another part)
            "triggers_not_received": args.parts - judged,
            "delivered": len(unique), "lost": judged - len(unique & set(range(1, judged + 1))),
            "duplicates": len(seqs) - len(unique), "in_order": ordered == sorted(unique),
            "exactly_once_after_seq_check": accepted == list(range(1, judged + 1)),
            "duplicates_resent_by_broker": len(twice & sub.dup_flagged),
            "messages_match_parts": len(set(part_ids)) == judged and set(part_ids) <= {f"B{n:06d}" for n in
                                                                                        range(1, args.parts + 1)},
            "trigger_to_result_p50_ms": percentile(observed, 50), "trigger_to_result_p99_ms": percentile(observed, 99),
            "beyond_model_p50_ms": percentile(beyond, 50), "beyond_model_p99_ms": percentile(beyond, 99),
            "model_p50_ms": doc["latency_p50_ms"], "model_p99_ms": doc["latency_p99_ms"],
            "station_trigger_to_result_p50_ms": li["trigger_to_result_p50_ms"],
            "station_trigger_to_result_p99_ms": li["trigger_to_result_p99_ms"],
            "mqtt_result_p50_ms": percentile(mqtt_ms, 50) if args.trigger == "plc" else None,
            "mqtt_result_p99_ms": percentile(mqtt_ms, 99) if args.trigger == "plc" else None,
            "verdicts": counts, "errors": li["errors"], "refused": li["refused"],
            "log_rows": len(rows), "log_matches": [r.part_id for r in rows] == delivered_parts,
            "broker_restarts": len(restarts), "broker_signal": args.signal if restarts else None,
            "mqtt_connects": li["outputs"]["mqtt"]["connects"], "mqtt_waiting_at_end": li["outputs"]["mqtt"]["waiting"],
            # published twice by the station (its PUBACK was lost with the broker); the rest of the duplicates
            # are the broker's own redeliveries to the consumer from its persistence file after a kill
            "republished_by_station": li["outputs"]["mqtt"]["published"] - li["outputs"]["mqtt"]["sent"],
            "stale_frames_skipped": li["stale_frames_skipped"],
            "rss_mb_after_10pct": round(warm[0], 1) if warm else None,
            "rss_mb_end": round(warm[-1], 1) if warm else None,
            "rss_growth_mb": round(warm[-1] - warm[0], 1) if len(warm) > 1 else None,
            "rss_growth_second_half_mb": round(second_half[-1] - second_half[0], 1) if len(second_half) > 1 else None,
            "seconds": round(seconds, 1), "parts_per_s": round(args.parts / seconds, 1),
            "model_backend": doc["backend"], "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
        }))


if __name__ == "__main__":
    main()
