"""The gateway's three lanes and what waits in them.

Each lane commits whatever has gathered as one transaction on a worker thread of its own
(never the shared default pool, where password hashing and exports run): alarms (sos,
fall), texts (message: a safe word raises duress, and checking it is slow on purpose) and
the rest (heartbeats and other readings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from device_gateway.links import Link
from device_gateway.messages import ALARM_KINDS, DeviceReading
from device_gateway.mqtt_link import InboundMessage

LANES: Final = ("alarm", "text", "bulk")


@dataclass(frozen=True)
class Item:
    """One message waiting in a lane, with the link that delivered it (acked there)."""

    message: InboundMessage
    reading: DeviceReading | None
    """None when validation itself failed: the message is recorded as rejected."""
    source: Link | None
    why: str = ""


def lane_of(item: Item) -> str:
    kind = item.reading.kind if item.reading is not None else ""
    return "alarm" if kind in ALARM_KINDS else "text" if kind == "message" else "bulk"
