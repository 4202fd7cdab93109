"""A device message the broker delivered that could not be recorded as what it says it is.

Validation refuses what it knows cannot be stored; this is the record of what slipped
past it and still made a group commit fail (device_gateway.gateway isolates it). It is
kept, with its raw bytes capped and base64-encoded (so the record itself is always
storable), and acknowledged, so it is neither lost nor delivered again for ever.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.ids import NAMESPACE

RAW_CAP_BYTES = 1024
"""How much of the payload is kept: enough to see what a device's encoder did."""


class RejectedDeviceMessage(Aggregate):
    @staticmethod
    def create_id(topic: str, raw_sha256: str) -> UUID:
        """The same bytes on the same topic are one record: a redelivery after a crash
        between the commit and the acknowledgement collides instead of recording twice."""
        return uuid5(NAMESPACE, f"rejected-device-message/{topic}/{raw_sha256}")

    @event("Rejected")
    def __init__(
        self,
        topic: str,
        raw_sha256: str,
        device: str | None,
        kind: str | None,
        reason: str,
        raw_base64: str,
        raw_size: int,
        timestamp: datetime,
    ) -> None:
        self.topic = topic
        self.raw_sha256 = raw_sha256
        self.device = device
        self.kind = kind
        self.reason = reason
        self.raw_base64 = raw_base64
        """The first RAW_CAP_BYTES of the payload, base64."""
        self.raw_size = raw_size
        """The payload's full length in bytes."""
        self.rejected_at = timestamp
