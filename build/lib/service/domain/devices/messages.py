"""What a device sent, as received: immutable, one aggregate per message.

One aggregate per message (rather than one growing stream per device) keeps
recording a heartbeat an insert, never a reload, and lets a message that
carried an `id` collide with its own repeat on the store's uniqueness constraint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from service.domain.ids import device_message_id

ALARM_KINDS: Final = frozenset({"sos", "fall"})
"""The device kinds that raise an alarm (INTERFACES section 2). The gateway routes them to
their own session and lane; the intake raises their alert; the views count them."""


class DeviceMessage(Aggregate):
    @staticmethod
    def create_id(device: str, message_id: str | None) -> UUID:
        """A message with an `id` gets an id of its own making; one without is always new."""
        return device_message_id(device, message_id) if message_id else uuid4()

    @event("Received")
    def __init__(
        self,
        device: str,
        kind: str,
        message_id: str | None,
        device_ts: datetime | None,
        fields: dict[str, Any],
        school: str,
        staff: str | None,
        timestamp: datetime,
    ) -> None:
        self.device = device
        self.kind = kind
        self.message_id = message_id
        self.device_ts = device_ts
        self.fields = fields
        self.school = school
        self.staff = staff
        self.received_at = timestamp
