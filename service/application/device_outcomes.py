"""What became of one device reading: the intake's answer, which the gateway acknowledges.

Split from device_intake.py so the repeat rules (device_repeats.py), which answer a repeat
with one, need not import the intake that asks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.notifications import Notification


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN_DEVICE = "unknown_device"


@dataclass(frozen=True)
class Intaken:
    """What became of one reading. `alert_id` names the alert an SOS or fall raised or
    joined (a duplicate names it too, so the device is told `alert_received` again);
    `alert_kind` says which (a duress alert is never announced to the device)."""

    outcome: Outcome
    message_id: UUID | None = None
    alert_id: UUID | None = None
    alert_kind: AlertKind | None = None
    joined_open_alert: bool = False
    flags: tuple[str, ...] = ()
    requested: tuple[Notification, ...] = ()
    """Notifications this reading's alert asked for, committed: send them at once."""
