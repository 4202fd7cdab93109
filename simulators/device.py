"""A simulated device: an SOS fob or a phone app, speaking INTERFACES.md section 2.

Like a real device it publishes at QoS 1 under its own id, listens on its `cmd`
topic, and repeats an SOS or fall (same `id`) every 5 s until `alert_received`
arrives: a broker can accept a message and still lose it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from device_gateway.messages import ALARM_KINDS, cmd_topic, device_topic

REPEAT_ALARM_EVERY = 5.0


class Profile(StrEnum):
    FOB = "sos_fob"
    PHONE = "phone"


KINDS_OF: dict[Profile, frozenset[str]] = {
    Profile.FOB: frozenset({"sos", "heartbeat", "battery", "fall"}),
    Profile.PHONE: frozenset(
        {"sos", "heartbeat", "battery", "location", "checkin", "message", "fall"}
    ),
}


@dataclass
class DeviceCounts:
    sent: int = 0
    acknowledged: int = 0  # PUBACKs from the broker
    repeats: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)


class SimulatedDevice:
    def __init__(
        self,
        device_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 1884,
        prefix: str = "",
        profile: Profile = Profile.FOB,
        secret: str | None = None,
        client_id: str | None = None,
        repeat_every: float = REPEAT_ALARM_EVERY,
        clean: bool = True,
    ) -> None:
        self.device_id = device_id
        self.profile = profile
        self.prefix = prefix
        self.repeat_every = repeat_every
        self.counts = DeviceCounts()
        self._host, self._port = host, port
        self._seq = 0
        self._lock = threading.Lock()
        self._pending_alarms: dict[str, tuple[str, bytes, float]] = {}  # id -> topic, body, due
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.refused: str | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"sim-{device_id}",
            protocol=mqtt.MQTTv311,
            clean_session=clean,
        )
        if secret is not None:
            self.client.username_pw_set(device_id, secret)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.reconnect_delay_set(1, 10)

    # -- connection -----------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> bool:
        """Connect and subscribe to the cmd topic; False if refused or not in time."""
        self.client.connect_async(self._host, self._port, keepalive=60)
        self.client.loop_start()
        return self._subscribed.wait(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def cmd_topic(self) -> str:
        return cmd_topic(self.prefix, self.device_id)

    # -- sending --------------------------------------------------------------------

    def send(self, kind: str, **fields: Any) -> str:
        """Publish one message with a fresh `id` (unless one is given); returns the id."""
        if kind not in KINDS_OF[self.profile]:
            raise ValueError(f"a {self.profile.value} does not send {kind!r}")
        with self._lock:
            self._seq += 1
            seq = self._seq
        fields.setdefault("id", f"{self.device_id}-{seq}-{time.time_ns() % 10**9}")
        fields.setdefault("seq", seq)
        fields.setdefault("ts", int(time.time() * 1000))
        body = json.dumps(fields).encode()
        topic = self.topic(kind)
        if kind in ALARM_KINDS:
            with self._lock:
                self._pending_alarms[str(fields["id"])] = (
                    topic,
                    body,
                    time.monotonic() + self.repeat_every,
                )
        self.publish_raw(topic, body)
        return str(fields["id"])

    def topic(self, kind: str) -> str:
        return device_topic(self.prefix, self.device_id, kind)

    def publish_raw(self, topic: str, body: bytes) -> mqtt.MQTTMessageInfo:
        """Publish bytes as they are (for malformed-message scenarios)."""
        self.counts.sent += 1
        return self.client.publish(topic, body, qos=1)

    def repeat_due(self, now: float | None = None) -> int:
        """Send again every alarm still waiting for `alert_received`; returns how many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            due = [(k, v) for k, v in self._pending_alarms.items() if v[2] <= now]
            for key, (topic, body, _) in due:
                self._pending_alarms[key] = (topic, body, now + self.repeat_every)
        for _, (topic, body, _) in due:
            self.counts.repeats += 1
            self.publish_raw(topic, body)
        return len(due)

    @property
    def waiting_for_alert_received(self) -> bool:
        with self._lock:
            return bool(self._pending_alarms)

    def alerts_received(self) -> list[str]:
        return [c["alert_id"] for c in self.counts.commands if c.get("type") == "alert_received"]

    # -- paho callbacks (paho's thread) ------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            return
        self._connected.set()
        client.subscribe(self.cmd_topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            command = json.loads(message.payload)
        except ValueError:
            return
        if not isinstance(command, dict):
            return
        self.counts.commands.append(command)
        if command.get("type") == "alert_received":
            # The answer names the press it answers (`id`): only that one stops repeating.
            # A service that names none (older) answers every alarm waiting.
            with self._lock:
                if command.get("id") is None:
                    self._pending_alarms.clear()
                else:
                    self._pending_alarms.pop(str(command["id"]), None)

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        self.counts.acknowledged += 1
