"""A device message as the gateway parsed it: validated fields, before it is recorded.

The intake (service/application/device_intake.py) takes these; device_gateway/messages.py
makes them from topic and bytes. Pure values: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

CLOCK_SKEW_TOLERANCE_SECONDS: Final = 300.0
"""How far a device's `ts` may stray from our receipt time before it is flagged."""


@dataclass(frozen=True)
class DeviceReading:
    """One accepted device message; every payload field is optional (None when absent)."""

    device_id: str
    kind: str
    msg_id: str | None
    device_ts: datetime | None
    lat: float | None
    lon: float | None
    acc: float | None
    battery: int | None
    text: str | None
    seq: int | None
    rejected_fields: dict[str, str] = field(default_factory=dict)
    """Only for alarm kinds: optional fields that failed validation, and why (they were dropped)."""


def clock_skew_seconds(
    device_ts: datetime | None,
    received_at: datetime,
    tolerance: float = CLOCK_SKEW_TOLERANCE_SECONDS,
) -> float | None:
    """How far the device's clock is from ours (positive: ahead), when beyond `tolerance`.

    The message is kept either way: our receipt time is authoritative, the flag
    tells a person the device's clock (or its buffering) needs looking at.
    """
    if device_ts is None:
        return None
    skew = (device_ts - received_at).total_seconds()
    return round(skew, 3) if abs(skew) > tolerance else None
