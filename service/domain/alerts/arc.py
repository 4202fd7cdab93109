"""What goes to a school's alarm receiving centre (ARC) about an alert, and what came back.

One `ArcMessage` per alert and SIA code (the alarm `PA`, later its restoral `PR`): every try
and the ARC's answer are recorded on it, so the alert's timeline shows them (INTERFACES §9).
Which alerts go, with which code, is decided here and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.alerts.alert import AlertKind

ALARM_CODES: dict[AlertKind, str] = {
    AlertKind.SOS: "PA",  # panic alarm
    AlertKind.DURESS: "HA",  # hold-up (duress) alarm
    AlertKind.FALL: "MA",  # medical alarm
}
"""The red alerts an ARC is told of (INTERFACES §9), with their SIA DCS event codes."""
RESTORAL_CODES: dict[AlertKind, str] = {
    AlertKind.SOS: "PR",
    AlertKind.DURESS: "HR",
    AlertKind.FALL: "MR",
}
"""Sent when the alert is resolved (not when it is only acknowledged)."""
UNREACHABLE_AFTER = 30.0
"""Seconds without an ACK after which the console gets a red `arc_unreachable` alert."""


def arc_code(kind: AlertKind, *, resolved: bool) -> str | None:
    """The SIA code for this alert kind and moment, or None if the ARC is not told."""
    return (RESTORAL_CODES if resolved else ALARM_CODES).get(kind)


def alarm_text(staff_name: str | None, short_code: str) -> str:
    """The `[I…]` alarm text: who, and the code a person quotes to Lonewatch."""
    return f"{staff_name} {short_code}" if staff_name else short_code


def arc_message_id(alert_id: UUID, code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lonewatch:arc:{alert_id}:{code}")


class ArcMessage(Aggregate):
    @staticmethod
    def create_id(alert_id: UUID, code: str) -> UUID:
        return arc_message_id(alert_id, code)

    @event("Requested")
    def __init__(
        self,
        alert_id: UUID,
        school: str,
        code: str,
        zone: int,
        extended: list[list[str]],
        arc: str,
        timestamp: datetime,
    ) -> None:
        """`extended` is the DC-09 extended data as [identifier, value] pairs; `arc` the
        ARC's URL and account as the school named it then (never the key)."""
        self.alert_id = alert_id
        self.school = school
        self.code = code
        self.zone = zone
        self.extended = extended
        self.arc = arc
        self.requested_at = timestamp
        self.tries = 0
        self.acknowledged_at: datetime | None = None
        self.unreachable_alert: UUID | None = None

    @property
    def delivered(self) -> bool:
        return self.acknowledged_at is not None

    @event("Tried")
    def record_try(
        self,
        attempt: int,
        sequence: int,
        answer: str | None,
        acknowledged: bool,
        detail: str,
        timestamp: datetime,
    ) -> None:
        """One frame sent and what the ARC said (`answer` None: nothing, see `detail`)."""
        self.tries = attempt
        if acknowledged and self.acknowledged_at is None:
            self.acknowledged_at = timestamp

    @event("Unreachable")
    def record_unreachable(self, alert: UUID, after_s: float, timestamp: datetime) -> None:
        """No ACK within UNREACHABLE_AFTER: the `arc_unreachable` alert raised for it."""
        self.unreachable_alert = alert
