"""An OwnTracks phone on the broker, for tests and `lonewatch simulate`: the app's own
payloads (owntracks/booklet, "JSON") on its own topics.

`{base}` gets `_type: location` (`lat`, `lon`, `acc`, `batt`, `tst`, `tid`, `t`, ...);
`{base}/event` gets `_type: transition` (`event` enter|leave, `desc`, `wtst`, ...); the
broker publishes the app's last will, `_type: lwt` with the `tst` of its connection, on
`{base}` when the phone drops off without saying goodbye. QoS 1, as the app's default.
"""

from __future__ import annotations

import json
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class OwnTracksPhone:
    """Blocking calls (connect, publish): run them in a thread beside an asyncio service."""

    def __init__(self, host: str, port: int, base: str, *, client_id: str | None = None) -> None:
        self.base = base
        self.connected_at = int(time.time())
        self.tid = base.rstrip("/")[-2:]  # the app's default: the topic's last two characters
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or base.replace("/", "-"),
            protocol=mqtt.MQTTv311,
        )
        self.client.will_set(
            base, json.dumps({"_type": "lwt", "tst": self.connected_at}), qos=1, retain=False
        )
        self.client.connect(host, port)
        self.client.loop_start()

    def location(
        self,
        lat: float,
        lon: float,
        *,
        acc: int = 10,
        batt: int | None = 80,
        tst: int | None = None,
        trigger: str | None = None,
        **more: Any,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "_type": "location",
            "tid": self.tid,
            "lat": lat,
            "lon": lon,
            "acc": acc,
            "tst": tst if tst is not None else int(time.time()),
            "conn": "m",
            "created_at": int(time.time()),
            **more,
        }
        if batt is not None:
            payload["batt"] = batt
            payload["bs"] = 1  # unplugged
        if trigger is not None:
            payload["t"] = trigger
        self.publish(self.base, payload)
        return payload

    def transition(
        self,
        event: str,
        desc: str,
        lat: float,
        lon: float,
        *,
        acc: float = 10.0,
        tst: int | None = None,
        wtst: int = 1_700_000_000,
    ) -> dict[str, Any]:
        payload = {
            "_type": "transition",
            "tid": self.tid,
            "event": event,
            "desc": desc,
            "t": "c",
            "lat": lat,
            "lon": lon,
            "acc": acc,
            "tst": tst if tst is not None else int(time.time()),
            "wtst": wtst,
        }
        self.publish(f"{self.base}/event", payload)
        return payload

    def publish(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(topic, raw, qos=1).wait_for_publish(5)

    def drop_off(self) -> None:
        """The phone loses its connection without a DISCONNECT: the broker sends the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
