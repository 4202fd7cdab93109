"""Devices on a NATS cluster's MQTT listeners, sending steadily and behaving as the device
contract says: each message repeated (same `id`) until the broker acknowledges it, on
another node if its own stops answering; each SOS repeated until `alert_received`.

For the failover test and demos: what every device sent is kept, so the store can be
checked against it (0 lost, 0 recorded twice).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.messages import cmd_topic, device_topic

PUBACK_WAIT_SECONDS = 2.0
SOS_REPEAT_SECONDS = 5.0


@dataclass
class Sent:
    """What the devices were told was taken: (device, id) of every acknowledged message,
    and when (time.monotonic())."""

    acknowledged: dict[tuple[str, str], float] = field(default_factory=dict)
    moved_node: int = 0
    """Messages sent again on another node because theirs did not acknowledge."""
    sos_answered: dict[str, float] = field(default_factory=dict)
    given_up: int = 0
    """Messages no node had acknowledged when the devices were stopped (not counted sent)."""


class NodeClient:
    """One MQTT connection to one node (reconnecting by itself while the node is up)."""

    def __init__(
        self, port: int, client_id: str, on_command: object = None, listen: str | None = None
    ) -> None:
        self.port = port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 1)
        if on_command is not None:
            self.client.on_message = on_command  # type: ignore[assignment]
        if listen is not None:  # a clean session: subscribe again on every connect
            self.client.on_connect = lambda c, *_: c.subscribe(listen, qos=1)
        self.client.connect_async("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class SteadyDevices:
    """`rate` heartbeats/s from `devices` (round robin over the nodes), and an SOS every
    `sos_every` seconds from `sos_device`, until `stop`."""

    def __init__(
        self,
        mqtt_ports: list[int],
        devices: list[str],
        *,
        prefix: str,
        run: str,
        rate: float = 100.0,
        sos_device: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.devices = devices
        self.rate = rate
        self.sos_device = sos_device
        self.sent = Sent()
        self._lock = threading.Lock()
        self._answered_at: dict[str, float] = {}
        """When each press was first answered, by the `id` its `alert_received` names."""
        self.nodes = [
            NodeClient(
                port,
                f"{run}-load-{i}",
                self._on_command,
                cmd_topic(prefix, sos_device) if sos_device else None,
            )
            for i, port in enumerate(mqtt_ports)
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count()
        self.sos_pending: dict[str, tuple[float, float]] = {}
        """Presses not yet answered: (first sent, last sent)."""

    def _on_command(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        command = json.loads(message.payload)
        if command.get("type") == "alert_received" and command.get("id"):
            with self._lock:
                self._answered_at.setdefault(str(command["id"]), time.monotonic())

    def start(self) -> None:
        for target in (self._beat, self._sos_loop):
            worker = threading.Thread(target=target, name="steady-devices", daemon=True)
            worker.start()
            self._threads.append(worker)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def close(self) -> None:
        self.stop()
        for node in self.nodes:
            node.close()

    def press_sos(self, press_id: str) -> None:
        """Sent by the beating thread now and every SOS_REPEAT_SECONDS until an
        `alert_received` names it (an answer to another press of the same device says
        nothing about this one: the broker may have lost it)."""
        with self._lock:
            self.sos_pending[press_id] = (time.monotonic(), -SOS_REPEAT_SECONDS)

    def _beat(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            n = next(self._ids)
            device = self.devices[n % len(self.devices)]
            self._send(device, "heartbeat", f"hb-{n}", n)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _sos_loop(self) -> None:
        """Its own thread: a heartbeat waiting for a node must not hold an SOS back."""
        while not self._stop.wait(0.05):
            self._repeat_sos()

    def _repeat_sos(self) -> None:
        if self.sos_device is None:
            return
        now = time.monotonic()
        with self._lock:
            for press in list(self.sos_pending):
                if press in self._answered_at:
                    self.sent.sos_answered[press] = self._answered_at[press]
                    del self.sos_pending[press]
            due = [
                p for p, (_, last) in self.sos_pending.items() if now - last > SOS_REPEAT_SECONDS
            ]
            for press in due:
                self.sos_pending[press] = (self.sos_pending[press][0], now)
        for press in due:
            threading.Thread(
                target=self._send, args=(self.sos_device, "sos", press, 0), daemon=True
            ).start()

    def _send(self, device: str, kind: str, msg_id: str, n: int) -> None:
        """Until some node acknowledges it (or the devices are stopped): the node this
        message falls to, then the next."""
        topic = device_topic(self.prefix, device, kind)
        payload = json.dumps({"id": msg_id, "battery": 80}).encode()
        for attempt in itertools.count():
            if attempt and self._stop.is_set():
                self.sent.given_up += 1
                return
            node = self.nodes[(n + attempt) % len(self.nodes)]
            if attempt:
                self.sent.moved_node += 1
            if not node.client.is_connected():
                time.sleep(0.05)
                continue
            info = node.publish(topic, payload)
            try:
                info.wait_for_publish(PUBACK_WAIT_SECONDS)
            except (RuntimeError, ValueError):
                continue
            if info.is_published():
                with self._lock:
                    self.sent.acknowledged[(device, msg_id)] = time.monotonic()
                return
