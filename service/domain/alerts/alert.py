"""Alerts: raised, notified, acknowledged by a person, resolved with an outcome and a note."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from service.domain.alerts.working import HandoverText, handover_refusal, note_text
from service.domain.errors import DomainError, InvalidTransition
from service.domain.ids import alert_id


class AlertKind(StrEnum):
    SOS = "sos"
    FALL = "fall"
    DURESS = "duress"
    OVERDUE = "overdue"
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"
    NOTIFICATION_FAILED = "notification_failed"
    ARC_UNREACHABLE = "arc_unreachable"
    CONCERN = "concern"  # a safeguarding concern from a visitor at the property, for the DSL


class Severity(StrEnum):
    RED = "red"
    AMBER = "amber"


SEVERITY_OF: dict[AlertKind, Severity] = {
    AlertKind.SOS: Severity.RED,
    AlertKind.FALL: Severity.RED,
    AlertKind.DURESS: Severity.RED,
    AlertKind.OVERDUE: Severity.RED,
    AlertKind.NOTIFICATION_FAILED: Severity.RED,
    AlertKind.ARC_UNREACHABLE: Severity.RED,
    AlertKind.DEVICE_OFFLINE: Severity.AMBER,
    AlertKind.LOW_BATTERY: Severity.AMBER,
    AlertKind.CONCERN: Severity.AMBER,
}


class AlertState(StrEnum):
    RAISED = "raised"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_ALERT_STATES: tuple[str, ...] = tuple(
    s.value for s in AlertState if s is not AlertState.RESOLVED
)
"""An alert is open until it is resolved (acknowledged ones too): the one list of them."""


class Outcome(StrEnum):
    SAFE = "safe"
    FALSE_ALARM = "false_alarm"
    EMERGENCY_SERVICES_CALLED = "emergency_services_called"
    OTHER = "other"


def parse_outcome(value: object) -> Outcome:
    try:
        return Outcome(str(value))
    except ValueError:
        choices = ", ".join(o.value for o in Outcome)
        raise DomainError(f"outcome must be one of: {choices} (got {value!r})") from None


class Alert(Aggregate):
    """`key` names what raised the alert (`message:<id>`, `notification:<id>`): one alert per cause."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return alert_id(key)

    @event("Raised")
    def __init__(
        self,
        key: str,
        kind: str,
        school: str,
        device: str | None,
        staff: str | None,
        cause: dict[str, Any],
        timestamp: datetime,
        silent: bool = False,
    ) -> None:
        self.key = key
        self.kind = AlertKind(kind)
        self.severity = SEVERITY_OF[self.kind]
        self.school = school
        self.device = device
        self.staff = staff
        self.cause = cause
        self.silent = silent
        self.raised_at = timestamp
        self.state = AlertState.RAISED
        self.presses = 1
        self.notified: list[str] = []
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None
        self.outcome: Outcome | None = None
        self.note: str | None = None
        self.resolved_by: str | None = None
        self.resolved_at: datetime | None = None
        self.escalation_steps: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.handed_to: str | None = None

    @property
    def holder(self) -> str | None:
        """Who has the alert now: whoever it was last handed to, else whoever took it."""
        return self.handed_to or self.acknowledged_by

    @property
    def is_open(self) -> bool:
        return self.state.value in OPEN_ALERT_STATES

    @event("PressedAgain")
    def record_pressed_again(self, count: int, timestamp: datetime) -> None:
        """The device pressed again (new message ids) while this alert was open: the
        same emergency, counted here rather than raised `count` more times."""
        self.presses += count

    @event("Notified")
    def record_notified(self, notification_id: UUID, contact: str, timestamp: datetime) -> None:
        """A person was sent word of this alert (the notifier accepted the message)."""
        self.notified.append(contact)
        if self.state is AlertState.RAISED:
            self.state = AlertState.NOTIFIED

    @event("Escalated")
    def record_escalation(self, step: dict[str, Any], timestamp: datetime) -> None:
        """A step of the escalation ladder (service.domain.alerts.escalation), with its reason."""
        self.escalation_steps.append(step)

    @event("DeliveryFailed")
    def record_delivery_failed(
        self, notification_id: UUID, contact: str, channel: str, timestamp: datetime
    ) -> None:
        """A message about this alert failed for good. Recorded on the alert so that two
        channels failing at once for one contact are decided one after the other."""

    def acknowledge(self, by: str, via: str, timestamp: datetime) -> None:
        if self.state is AlertState.RESOLVED:
            raise InvalidTransition(f"alert was already resolved by {self.resolved_by}")
        if self.state is AlertState.ACKNOWLEDGED:
            raise InvalidTransition(f"alert was already acknowledged by {self.acknowledged_by}")
        self._acknowledged(by=by, via=via, timestamp=timestamp)

    @event("Acknowledged")
    def _acknowledged(self, by: str, via: str, timestamp: datetime) -> None:
        self.state = AlertState.ACKNOWLEDGED
        self.acknowledged_by = by
        self.acknowledged_at = timestamp

    def resolve(self, outcome: Outcome, note: str, by: str, timestamp: datetime) -> None:
        """Close the alert. Resolving one nobody acknowledged records the acknowledgement first."""
        if self.state is AlertState.RESOLVED:
            raise InvalidTransition(f"alert was already resolved by {self.resolved_by}")
        if not note.strip():
            raise DomainError("a note is needed to resolve an alert: say what happened")
        if self.state is not AlertState.ACKNOWLEDGED:
            self._acknowledged(by=by, via="resolve", timestamp=timestamp)
        self._resolved(outcome=outcome.value, note=note.strip(), by=by, timestamp=timestamp)

    @event("Resolved")
    def _resolved(self, outcome: str, note: str, by: str, timestamp: datetime) -> None:
        self.state = AlertState.RESOLVED
        self.outcome = Outcome(outcome)
        self.note = note
        self.resolved_by = by
        self.resolved_at = timestamp

    def add_note(self, text: str, by: str, timestamp: datetime) -> None:
        """A note while the alert is worked ("rang the home, no answer"): kept in its record."""
        self._refuse_if_resolved("add a note to")
        self._noted(by=by, text=note_text(text), timestamp=timestamp)

    @event("NoteAdded")
    def _noted(self, by: str, text: str, timestamp: datetime) -> None:
        self.notes.append({"by": by, "text": text, "at": timestamp})

    def hand_over(
        self,
        to: str,
        note: str,
        by: str,
        timestamp: datetime,
        texted: HandoverText | None = None,
    ) -> None:
        """Hand the alert to a named colleague (`to`, an actor like `dsl:dsl1`), with a
        note of where things stand and whether they are texted (`texted`, decided by the
        caller, who knows their mobile). Whoever checks that `to` may take alerts: the
        caller."""
        self._refuse_if_resolved("hand over")
        refusal = handover_refusal(
            taken=self.acknowledged_by is not None, holder=self.holder, to=to
        )
        if refusal is not None:
            raise InvalidTransition(refusal)
        self._handed_over(
            by=by,
            to=to,
            note=note_text(note, needed=False),
            timestamp=timestamp,
            texted=None if texted is None else texted.value,
        )

    @event("HandedOver")
    def _handed_over(
        self, by: str, to: str, note: str, timestamp: datetime, texted: str | None = None
    ) -> None:
        """`texted`: a `HandoverText` value; None in handovers stored before it was
        recorded (they load and read as they always did)."""
        self.handed_to = to

    def _refuse_if_resolved(self, what: str) -> None:
        if self.state is AlertState.RESOLVED:
            raise InvalidTransition(
                f"alert was already resolved by {self.resolved_by}: cannot {what} a closed alert"
            )
