"""What became of one device reading: the intake's answer, which the gateway acknowledges.

Split from device_intake.py so the repeat rules (device_repeats.py), which answer a repeat
with one, need not import the intake that asks them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple
from uuid import UUID

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.notifications import Notification
from service.domain.devices.messages import ALARM_KINDS

ANNOUNCED_ALERTS = frozenset(AlertKind(kind) for kind in ALARM_KINDS)
"""Alerts a press raises or joins, which the device is told of (`alert_received`)."""


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN_DEVICE = "unknown_device"


RECORDED: Final = Outcome.RECORDED
"""`Outcome.RECORDED`, read once: a member read through its enum class costs ~0.07 µs more
than a module's name on Python 3.11 (the metaclass's attribute lookup), and a heartbeat's
outcome read it twice (made, then asked whether it is `quiet`)."""


class Intaken(NamedTuple):
    """What became of one reading. `alert_id` names the alert an SOS or fall raised or
    joined (a duplicate names it too, so the device is told `alert_received` again);
    `alert_kind` says which (`announced`: whether the device is told).

    A NamedTuple, not a frozen dataclass: one is made per heartbeat, and a frozen
    dataclass's `__init__` sets each of its nine fields through `object.__setattr__`
    (~1.6 µs against ~0.4); it is as immutable and hashable. Change one with `_replace`."""

    outcome: Outcome
    message_id: UUID | None = None
    alert_id: UUID | None = None
    alert_kind: AlertKind | None = None
    joined_open_alert: bool = False
    flags: tuple[str, ...] = ()
    requested: tuple[Notification, ...] = ()
    """Notifications this reading's alert asked for, committed: send them at once."""
    clock_skew_seconds: float | None = None
    """How far the device's clock was from ours, when beyond the tolerance (`clock_skew`)."""
    asked_for_help: bool = False
    """A text saying HELP: answered as a press is, whatever it raised (under the safe word,
    the silent duress alert: the phone must show what it shows for HELP alone)."""

    @property
    def quiet(self) -> bool:
        """Recorded with nothing to tell anyone: no flag (so no dropped field, no clock
        skew, no reused id), no alert raised or joined. A heartbeat's outcome: settling it
        is its acknowledgement and a count (device_gateway/acks.py)."""
        return self.outcome is RECORDED and not self.flags and self.alert_id is None

    @property
    def announced(self) -> bool:
        """Whether the device is told `alert_received` for `alert_id`: a press (SOS, fall)
        and a HELP; never a duress alert otherwise, which is silent."""
        return self.alert_id is not None and (
            self.alert_kind in ANNOUNCED_ALERTS or self.asked_for_help
        )
