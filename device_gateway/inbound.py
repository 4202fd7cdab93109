"""One device message as a broker delivered it: what every link hands the gateway.

Its own module (split from mqtt_link.py) because the NATS, OwnTracks and Traccar links,
the lanes and the acknowledgements all speak it, and none of them needs paho.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InboundMessage:
    """One message as the broker delivered it; `mid` and `qos` are what `ack` needs."""

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
