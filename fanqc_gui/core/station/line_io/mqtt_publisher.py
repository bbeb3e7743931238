"""Results and station status to an MQTT broker (paho-mqtt), through a bounded outbox on disk.

Topics (docs/line_io.md has the message format):
  <prefix>/<station>/result   one JSON message per part, QoS 1, in order, each with a sequence number `seq`
  <prefix>/<station>/status   retained JSON: state online / offline (the last will), counters, messages waiting
  <prefix>/<station>/trigger  (mqtt trigger mode) a message here triggers a part; payload: empty, a part id, or
                              JSON {"part_id": ..., "lot_id": ..., "id": ...}

The station's loop only hands a result over (enqueue: no disk, no network). A thread of this publisher writes
it to the outbox (SQLite, workspace/.fanqc/) and publishes from the outbox in sequence order, at most
`window` messages awaiting the broker's PUBACK; a row leaves the outbox when its PUBACK comes. So a broker
that goes away never stops judging: messages wait on disk, and go out in order when it is back.

Each connection is a fresh paho client with a clean session: when one drops, the messages it had not got a
PUBACK for are published again from the outbox, in order, by the next one (paho's own resending after a
reconnect could send them after newer ones). Within the outbox's bound no message is lost. A message goes
twice only when the broker took it and went away before its PUBACK reached the station (QoS 1 is
at-least-once); consumers that must not count such a part twice keep the last `seq` per station.
Beyond the bound the oldest waiting messages are dropped, counted, and the status says so.
"""
from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from fanqc_gui.core.station.line_io.line_settings import MAX_LOT_ID, MAX_PART_ID, MqttSettings
from fanqc_gui.core.station.line_io.outbox import Outbox
from fanqc_gui.core.station.line_io.results import OutputStatus, PartResult

WINDOW = 16              # messages awaiting a PUBACK at once
KEEPALIVE_S = 10         # the broker publishes the last will about 15 s after the station vanished
STATUS_EVERY_S = 1.0
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.2, 5.0
CONNECT_TIMEOUT_S = 3.0


class MqttPublisher:
    def __init__(self, settings: MqttSettings, station: str, outbox_file: str | Path, *,
                 on_trigger: Callable[..., bool] | None = None, window: int = WINDOW,
                 status_every_s: float = STATUS_EVERY_S, keepalive_s: int = KEEPALIVE_S,
                 reconnect_s: tuple[float, float] = (RECONNECT_MIN_S, RECONNECT_MAX_S)):
        self.settings = settings
        self.station = station
        base = f"{settings.topic_prefix}/{station}"
        self.result_topic, self.status_topic, self.trigger_topic = f"{base}/result", f"{base}/status", \
            f"{base}/trigger"
        self._outbox_file = Path(outbox_file)
        self._on_trigger = on_trigger
        self._window = window
        self._status_every_s = status_every_s
        self._reconnect_s = reconnect_s
        self._keepalive_s = keepalive_s
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._seq_lock = threading.Lock()
        self._next_seq = 1
        self._queued = 0           # handed over by the station, not yet in the outbox
        self._outbox: Outbox | None = None
        self._thread: threading.Thread | None = None
        self._client = None
        self._generation = 0
        self._connected = False
        self._state, self._detail = "stopped", "stopped"
        self._status_info: dict = {}
        self._recent_trigger_ids: deque = deque(maxlen=256)
        self.sent = 0              # messages the broker took (PUBACK)
        self.published = 0         # result messages handed to a client (more than sent: some went again)
        self.dropped = 0           # messages dropped because the outbox was full
        self.connects = 0

    # ---- the station's side ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the outbox (LineIOError when another station holds it) and start connecting."""
        self._outbox = Outbox(self._outbox_file, self.settings.outbox_limit)
        self._next_seq = self._outbox.last_seq + 1
        self._state, self._detail = "connecting", f"connecting to {self.address}"
        self._thread = threading.Thread(target=self._run, name="fanqc-mqtt-outbox", daemon=True)
        self._thread.start()

    def enqueue(self, result: PartResult) -> int:
        """Hand a result over (never blocks); returns its sequence number."""
        with self._seq_lock:
            seq = self._next_seq
            self._next_seq += 1
            self._queued += 1
        self._events.put(("msg", seq, result))
        return seq

    def set_status_info(self, info: dict) -> None:
        """What the retained status carries besides the state (counters, trigger mode, camera...)."""
        self._status_info = info

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def waiting(self) -> int:
        with self._seq_lock:
            queued = self._queued
        return queued + (self._outbox.count if self._outbox is not None else 0)

    def status(self) -> OutputStatus:
        waiting = self.waiting
        detail = self._detail + (f", {waiting} waiting" if waiting else "")
        if self.dropped:
            detail += f", {self.dropped} dropped (outbox full)"
        return OutputStatus("mqtt", self._state, self._state == "connected", detail, waiting, self.dropped)

    def stop(self, drain_s: float = 2.0) -> None:
        """Send what waits (up to drain_s while connected), say "offline", disconnect; the rest stays on disk."""
        if self._thread is None:
            return
        self._events.put(("stop", drain_s))
        self._thread.join(drain_s + 10.0)
        self._thread = None

    # ---- paho callbacks (paho's thread): events for ours ----------------------------------------------------
    def _make_client(self):
        import paho.mqtt.client as mqtt

        self._generation += 1
        gen = self._generation
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fanqc-{self.station}",
                             clean_session=True, reconnect_on_failure=False)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.max_inflight_messages_set(self._window + 4)
        client.reconnect_delay_set(0.01, 0.01)  # paho's thread ends after one failed try: ours retries
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password or None)
        if self.settings.tls:
            client.tls_set()
        client.will_set(self.status_topic, json.dumps({"station": self.station, "state": "offline"}), qos=1,
                        retain=True)
        client.on_connect = lambda c, u, flags, reason, props: self._events.put(("connected", gen, reason))
        client.on_connect_fail = lambda c, u: self._events.put(("unreachable", gen, None))
        client.on_subscribe = lambda c, u, mid, codes, props: self._events.put(("subscribed", gen, codes))
        client.on_disconnect = lambda c, u, flags, reason, props: self._events.put(("disconnected", gen, reason))
        client.on_publish = lambda c, u, mid, reason, props: (_ack_now(c), self._events.put(("ack", gen, mid)))
        client.on_socket_open = lambda c, u, sock: _no_delay(sock)
        client.on_message = self._on_message
        client.connect_async(self.settings.host, self.settings.port, keepalive=self._keepalive_s)
        client.loop_start()
        return client

    def _on_message(self, client, userdata, message) -> None:
        if self._on_trigger is None or message.topic != self.trigger_topic:
            return
        at = time.monotonic()
        part_id, lot_id, trigger_id = parse_trigger(message.payload)
        if trigger_id:
            if trigger_id in self._recent_trigger_ids:  # a QoS 1 redelivery of a trigger already taken
                return
            self._recent_trigger_ids.append(trigger_id)
        self._on_trigger(part_id=part_id, lot_id=lot_id, trigger_id=trigger_id, at=at)

    # ---- the outbox thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        self._inflight: dict[int, int] = {}   # paho mid -> seq, for the current client
        self._handed = 0                      # highest seq handed to the current client
        self._next_connect, self._backoff = 0.0, self._reconnect_s[0]
        self._last_status, self._last_status_text = 0.0, ""
        stop_at: float | None = None
        try:
            while True:
                if self._client is None and stop_at is None and time.monotonic() >= self._next_connect:
                    self._client = self._make_client()
                    self._inflight.clear()
                    self._handed = 0          # a new session sends again what the last one left unacknowledged
                wait = 0.05 if stop_at is not None else min(0.5, max(0.01, self._next_connect - time.monotonic()))
                msgs, acks = [], []
                for event in self._take_events(wait):
                    if event[0] == "msg":
                        msgs.append(event)
                    elif event[0] == "stop":
                        stop_at = time.monotonic() + (event[1] if self._connected else 0.0)
                    elif event[1] == self._generation:  # else: from a client already given up
                        self._on_client_event(event, acks)
                self._store(msgs, acks)
                if self._connected:
                    self._send(force_status=stop_at is not None)
                if stop_at is not None and (not self._connected or self._outbox.count == 0
                                            or time.monotonic() >= stop_at):
                    break
        finally:
            self._say_offline()
            self._outbox.close()
            self._state, self._detail = "stopped", "stopped"

    def _on_client_event(self, event: tuple, acks: list[int]) -> None:
        kind, _, arg = event
        if kind == "ack":
            if (seq := self._inflight.pop(arg, None)) is not None:
                acks.append(seq)
        elif kind == "connected" and arg.is_failure:   # e.g. not authorised: try again, but not often
            self._state, self._detail = "refused", f"{self.address} refused the connection: {arg}"
            self._next_connect = self._drop_client(self._reconnect_s[1])
        elif kind == "connected":
            self._connected = True
            self.connects += 1
            self._backoff = self._reconnect_s[0]
            self._state, self._detail = "connected", f"connected to {self.address}"
            if self._on_trigger is not None:  # "connected" once triggers can arrive: a PLC may trigger at once
                self._state, self._detail = "connecting", f"connected to {self.address}; subscribing to triggers"
                self._client.subscribe(self.trigger_topic, qos=1)
            self._last_status, self._last_status_text = 0.0, ""  # a new session: say online at once
        elif kind == "subscribed":
            failed = [code for code in arg if getattr(code, "is_failure", False)]
            if failed:
                self._state, self._detail = "refused", (f"{self.address} refused the trigger subscription to "
                                                        f"{self.trigger_topic}: {failed[0]}")
            else:
                self._state, self._detail = "connected", f"connected to {self.address}"
        elif kind == "unreachable":
            self._state, self._detail = "disconnected", f"cannot reach {self.address}; retrying"
            self._next_connect = self._drop_client(self._backoff)
            self._backoff = min(self._backoff * 2, self._reconnect_s[1])
        elif kind == "disconnected":
            self._state, self._detail = "disconnected", f"lost {self.address}; reconnecting"
            self._next_connect = self._drop_client(self._reconnect_s[0])

    def _store(self, msgs: list, acks: list[int]) -> None:
        """New results into the outbox (one transaction), acknowledged ones out of it."""
        if msgs:
            rows = [(seq, self.result_topic, json.dumps(result.message(seq)).encode()) for _, seq, result in msgs]
            self.dropped += self._outbox.add(rows, keep_from=self._handed + 1)
            with self._seq_lock:
                self._queued -= len(msgs)
        if acks:
            self._outbox.remove(acks)
            self.sent += len(acks)

    def _send(self, force_status: bool = False) -> None:
        """Fill the window from the outbox, in seq order; the status every status_every_s when it changed."""
        free = self._window - len(self._inflight)
        if free > 0:
            for seq, topic, payload in self._outbox.after(self._handed, free):
                self._inflight[self._client.publish(topic, payload, qos=1).mid] = seq
                self._handed = seq
                self.published += 1
        now = time.monotonic()
        if now - self._last_status >= self._status_every_s or force_status:
            text = self._status_payload("online")
            if text != self._last_status_text:
                self._client.publish(self.status_topic, text, qos=1, retain=True)
                self._last_status_text = text
            self._last_status = now

    def _take_events(self, timeout: float) -> list:
        try:
            events = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:  # everything waiting: a stop must find every result handed over before it
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        return events

    def _drop_client(self, delay: float) -> float:
        """Give the current client up (its unacknowledged messages go again on the next one)."""
        client, self._client = self._client, None
        self._connected = False
        self._generation += 1  # what that client still reports is ignored
        if client is not None:
            client.loop_stop()
        return time.monotonic() + delay

    def _say_offline(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected:
            info = client.publish(self.status_topic, self._status_payload("offline"), qos=1, retain=True)
            try:
                info.wait_for_publish(1.0)
            except (RuntimeError, ValueError):
                pass
            client.disconnect()
        self._connected = False
        client.loop_stop()

    def _status_payload(self, state: str) -> str:
        doc = {"station": self.station, "state": state, "waiting": self.waiting, "dropped": self.dropped}
        if state == "online":
            doc.update(self._status_info)
        return json.dumps(doc, sort_keys=True)


# Small packets both ways (a trigger in, a PUBACK out, a result out, a PUBACK in) meet Nagle's algorithm and
# delayed ACKs: each stalls up to 40 ms (measured: MQTT trigger to result 88 ms instead of 3). paho does not set
# TCP_NODELAY; and the broker holds its next packet to the station until the station ACKs its last PUBACK, which
# Linux delays unless asked (TCP_QUICKACK). Brokers can also be told `set_tcp_nodelay true` (mosquitto.conf).
def _no_delay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def _ack_now(client) -> None:
    sock = client.socket()
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def parse_trigger(payload: bytes) -> tuple[str, str, int]:
    """(part id, lot id, trigger id) from a trigger message: empty, a part id as text, or a JSON object with
    part_id, lot_id and id (an id makes a redelivered copy of the same trigger harmless)."""
    text = payload.decode("utf-8", "replace").strip()
    if not text:
        return "", "", 0
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:MAX_PART_ID], "", 0
    if not isinstance(doc, dict):
        return str(doc)[:MAX_PART_ID], "", 0
    try:
        trigger_id = int(doc.get("id") or 0)
    except (TypeError, ValueError):
        trigger_id = 0
    return (str(doc.get("part_id") or "")[:MAX_PART_ID], str(doc.get("lot_id") or "")[:MAX_LOT_ID],
            trigger_id if 0 < trigger_id < 2 ** 63 else 0)
