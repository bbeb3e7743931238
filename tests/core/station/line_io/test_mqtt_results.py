"""MQTT results through the on-disk outbox, against a real mosquitto started by each test: order, exactly once,
a broker that goes away and comes back, the outbox's bound, the retained status and the last will."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from line_io_helpers import Broker, Subscriber, wait_for

from fanqc_gui.core.station.line_io.line_settings import MqttSettings
from fanqc_gui.core.station.line_io.mqtt_publisher import MqttPublisher, parse_trigger
from fanqc_gui.core.station.line_io.outbox import Outbox, outbox_path
from fanqc_gui.core.station.line_io.results import LineCounters, LineIOError, PartResult

STATION = "line-5"
RESULT, STATUS = f"plant/{STATION}/result", f"plant/{STATION}/status"


def result(n: int, verdict: str = "GO") -> PartResult:
    counters = LineCounters(inspected=n, go=n)
    return PartResult(STATION, verdict, "plc", n, f"P{n}", "L1", 0.1, 0.5, "model-1", 2.5, 0.4,
                      1_700_000_000.0 + n, n, counters.as_dict())


def publisher(broker: Broker, tmp_path, **kwargs) -> MqttPublisher:
    settings = MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, topic_prefix="plant",
                            **kwargs.pop("settings", {}))
    pub = MqttPublisher(settings, STATION, outbox_path(tmp_path / "ws", STATION), status_every_s=0.1,
                        reconnect_s=(0.05, 0.5), **kwargs)
    pub.start()
    return pub


def seqs(sub: Subscriber) -> list[int]:
    return [m["seq"] for m in sub.on(RESULT)]


def kept_by_seq(arrived: list[int]) -> list[int]:
    """What a consumer keeping the last seq takes: each message once, in order, if nothing is lost."""
    kept, last = [], 0
    for s in arrived:
        if s > last:
            kept.append(s)
            last = s
    return kept


def test_one_message_per_part_in_order_and_a_retained_status(broker, tmp_path):
    sub = Subscriber(broker.port, [RESULT, STATUS])
    pub = publisher(broker, tmp_path)
    assert wait_for(lambda: pub.status().state == "connected")
    pub.set_status_info({"trigger": "plc", "counters": {"inspected": 200}})
    for n in range(1, 201):
        assert pub.enqueue(result(n, "NG" if n % 7 == 0 else "GO")) == n
    assert wait_for(lambda: len(sub.on(RESULT)) >= 200)
    time.sleep(0.2)
    messages = sub.on(RESULT)
    assert [m["seq"] for m in messages] == list(range(1, 201))          # in order, each once
    first = messages[0]
    assert (first["station"], first["part_id"], first["lot_id"], first["verdict"], first["trigger"]) == \
        (STATION, "P1", "L1", "GO", "plc")
    assert first["threshold"] == 0.5 and first["model_id"] == "model-1" and first["time"].endswith("Z")
    assert first["trigger_to_result_ms"] == 2.5 and first["counters"]["inspected"] == 1
    assert messages[6]["verdict"] == "NG"
    assert wait_for(lambda: pub.status().waiting == 0 and pub.sent == 200)
    assert wait_for(lambda: any(s["state"] == "online" and s.get("trigger") == "plc" and s["waiting"] == 0
                                for s in sub.on(STATUS)))
    pub.stop()
    late = Subscriber(broker.port, [STATUS])                             # a dashboard opened later
    assert wait_for(lambda: late.on(STATUS) and late.on(STATUS)[-1]["state"] == "offline")
    assert Outbox(outbox_path(tmp_path / "ws", STATION)).count == 0
    sub.close()
    late.close()


def test_a_broker_outage_never_blocks_judging_and_loses_nothing(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    # the recommended consumer: a persistent session (clean session off, fixed id), QoS 1
    sub = Subscriber(broker.port, [RESULT], client_id="mes-consumer", clean=False)
    pub = publisher(broker, tmp_path)
    try:
        assert wait_for(lambda: pub.status().state == "connected")
        for n in range(1, 51):
            pub.enqueue(result(n))
        assert wait_for(lambda: pub.sent == 50 and len(seqs(sub)) == 50)
        broker.stop()                                        # the broker goes away
        assert wait_for(lambda: pub.status().state == "disconnected")
        slowest = 0.0
        for n in range(51, 351):
            t0 = time.perf_counter()
            pub.enqueue(result(n))
            slowest = max(slowest, time.perf_counter() - t0)
        assert slowest < 0.005                               # judging never waits for the broker
        assert wait_for(lambda: pub.status().waiting == 300)
        status = pub.status()
        assert not status.ok and "300 waiting" in status.detail and "reconnecting" in status.detail
        broker.start()                                       # back on the same port
        assert wait_for(lambda: set(seqs(sub)) == set(range(1, 351)), timeout=20)
        time.sleep(0.3)
        assert pub.published == 350 and pub.sent == 350      # the station sent each message once, in order
        assert kept_by_seq(seqs(sub)) == list(range(1, 351))
        # the broker may hand its consumer again what it had not seen acknowledged when it stopped (QoS 1,
        # flagged DUP): the seq check above is what a consumer does about it (docs/line_io.md)
        assert len(seqs(sub)) - 350 == sub.redelivered
        assert pub.status().waiting == 0 and pub.connects == 2
    finally:
        pub.stop()
        sub.close()
        broker.stop()


def offline_broker_with_a_consumer(tmp_path) -> tuple[Broker, Subscriber]:
    """A broker that keeps a persistent consumer's session, stopped: the station starts while it is away."""
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sub = Subscriber(broker.port, [RESULT], client_id="mes-consumer", clean=False)
    broker.stop()
    return broker, sub


def test_the_outbox_keeps_messages_across_a_station_restart(tmp_path):
    broker, sub = offline_broker_with_a_consumer(tmp_path)
    first = publisher(broker, tmp_path)
    for n in range(1, 31):
        first.enqueue(result(n))
    first.stop()
    assert first.status().waiting == 30 and first.status().state == "stopped"
    second = publisher(broker, tmp_path)                     # the station is started again
    assert second.enqueue(result(31)) == 31                  # the sequence goes on
    broker.start()
    try:
        assert wait_for(lambda: len(seqs(sub)) >= 31, timeout=20)
        time.sleep(0.2)
        assert kept_by_seq(seqs(sub)) == list(range(1, 32)) and wait_for(lambda: second.status().waiting == 0)
        assert len(seqs(sub)) == 31 + sub.redelivered
    finally:
        second.stop()
        sub.close()
        broker.stop()


def test_beyond_the_outbox_bound_the_oldest_are_dropped_and_counted(tmp_path):
    broker, sub = offline_broker_with_a_consumer(tmp_path)
    pub = publisher(broker, tmp_path, settings={"outbox_limit": 100})
    try:
        for n in range(1, 151):
            pub.enqueue(result(n))
        assert wait_for(lambda: pub.dropped == 50 and pub.status().waiting == 100)
        assert "100 waiting, 50 dropped (outbox full)" in pub.status().detail
        broker.start()
        assert wait_for(lambda: len(seqs(sub)) >= 100, timeout=20)
        time.sleep(0.2)
        assert kept_by_seq(seqs(sub)) == list(range(51, 151))   # the newest were kept, in order
        assert len(seqs(sub)) == 100 + sub.redelivered
        assert pub.status().waiting == 0 and pub.status().dropped == 50
    finally:
        pub.stop()
        sub.close()
        broker.stop()


def test_a_second_station_with_the_same_name_and_workspace_is_refused(broker, tmp_path):
    pub = publisher(broker, tmp_path)
    try:
        with pytest.raises(LineIOError, match="in use by another FanQC station with the same name and workspace"):
            publisher(broker, tmp_path)
    finally:
        pub.stop()


def test_the_last_will_says_offline_when_the_station_dies(broker, tmp_path):
    sub = Subscriber(broker.port, [STATUS])
    script = textwrap.dedent(f"""
        import time
        from fanqc_gui.core.station.line_io.line_settings import MqttSettings
        from fanqc_gui.core.station.line_io.mqtt_publisher import MqttPublisher
        pub = MqttPublisher(MqttSettings(enabled=True, host="127.0.0.1", port={broker.port}, topic_prefix="plant"),
                            {STATION!r}, {str(tmp_path / "outbox.sqlite")!r}, keepalive_s=1, status_every_s=0.1)
        pub.start()
        while pub.status().state != "connected":
            time.sleep(0.01)
        print("connected", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "connected"
        assert wait_for(lambda: any(s["state"] == "online" for s in sub.on(STATUS)))
        proc.kill()                                          # no goodbye: power cut, crash
        assert wait_for(lambda: sub.on(STATUS)[-1]["state"] == "offline", timeout=10)
        assert sub.on(STATUS)[-1] == {"station": STATION, "state": "offline"}
    finally:
        proc.kill()
        proc.wait()
        sub.close()


def test_the_password_is_never_shown(broker, tmp_path):
    pub = publisher(broker, tmp_path, settings={"username": "station", "password": "pa55#word"})
    try:
        assert wait_for(lambda: pub.status().state == "connected")
        texts = [repr(pub.settings), json.dumps(pub.status().as_dict()), pub.status().detail]
        assert not any("pa55" in t for t in texts)
    finally:
        pub.stop()


@pytest.mark.parametrize("payload, expected", [
    (b"", ("", "", 0)),
    (b"A-17", ("A-17", "", 0)),
    (b'{"part_id": "A-18", "lot_id": "L2", "id": 9}', ("A-18", "L2", 9)),
    (b'{"id": "x"}', ("", "", 0)),
    (b"42", ("42", "", 0)),
    (b"x" * 50, ("x" * 32, "", 0)),
])
def test_trigger_payloads(payload, expected):
    assert parse_trigger(payload) == expected


def test_a_broker_that_wants_a_password_gets_it_and_a_wrong_one_is_said_without_showing_it(tmp_path):
    secret, wrong = "s3cr3t#/?x", "guess-1234"
    broker = Broker(tmp_path / "auth-broker", users={"station": secret, "dashboard": "view"}).start()
    try:
        sub = Subscriber(broker.port, [RESULT], username="dashboard", password="view")
        pub = publisher(broker, tmp_path / "right", settings={"username": "station", "password": secret})
        assert wait_for(lambda: pub.status().state == "connected")
        pub.enqueue(result(1))
        assert wait_for(lambda: seqs(sub) == [1])
        pub.stop()
        refused = publisher(broker, tmp_path / "wrong", settings={"username": "station", "password": wrong})
        assert wait_for(lambda: refused.status().state == "refused")
        status = refused.status()
        assert not status.ok and "refused" in status.detail and "authori" in status.detail.lower()
        refused.enqueue(result(2))  # kept for when the password is put right, never dropped
        assert wait_for(lambda: refused.status().waiting == 1)
        refused.stop()
        said = status.detail + repr(status) + repr(refused.settings)
        assert secret not in said and wrong not in said
        for folder in (tmp_path / "right", tmp_path / "wrong"):
            for f in folder.rglob("*"):
                if f.is_file():
                    data = f.read_bytes()
                    assert secret.encode() not in data and wrong.encode() not in data, f
        sub.close()
    finally:
        broker.stop()


def test_with_triggers_the_station_is_connected_once_subscribed_so_a_trigger_sent_at_once_arrives(broker, tmp_path):
    triggers = []
    pub = publisher(broker, tmp_path, on_trigger=lambda **kw: triggers.append(kw) or True)
    assert wait_for(lambda: pub.status().state == "connected")
    mes = Subscriber(broker.port, [STATUS])  # the MES triggers as soon as the station says "connected"
    mes.client.publish(f"plant/{STATION}/trigger", json.dumps({"part_id": "T-1", "id": 1}), qos=1)
    assert wait_for(lambda: [t["part_id"] for t in triggers] == ["T-1"])
    mes.close()
    pub.stop()
