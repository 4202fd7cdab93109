"""One device message as a broker delivered it: what every link hands the gateway.

Its own module (split from mqtt_link.py) because the NATS, OwnTracks and Traccar links,
the lanes and the acknowledgements all speak it, and none of them needs paho.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

_SET = object.__setattr__
_NOW = time.monotonic


@dataclass(frozen=True, init=False)
class InboundMessage:
    """One message as the broker delivered it; `mid` and `qos` are what `ack` needs.

    Made once for every message paho reads, on its thread: `__init__` is written out, its
    attributes given whole, where the frozen dataclass's sets each of seven through
    `object.__setattr__` (~3x the cost; docs/performance.md, ingest8). Still frozen, equal
    and hashed as the dataclass's (`received_at` left out of both)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool
    username: str | None = None
    """The publisher's broker credential, where the broker passes it on. Mosquitto does
    not: there the ACL (deploy/mosquitto/acl) is what binds a device to its own topics."""
    received_at: float = field(default_factory=time.monotonic, compare=False)
    """When it reached us (time.monotonic): where /metrics' press-to-request latency starts."""

    def __init__(
        self,
        topic: str,
        payload: bytes,
        mid: int,
        qos: int,
        dup: bool,
        username: str | None = None,
        received_at: float | None = None,
    ) -> None:
        """As the dataclass's own would (`received_at`: now, unless given)."""
        _SET(
            self,
            "__dict__",
            {
                "topic": topic,
                "payload": payload,
                "mid": mid,
                "qos": qos,
                "dup": dup,
                "username": username,
                "received_at": _NOW() if received_at is None else received_at,
            },
        )
