"""Escalation policy rules: who is told of an alert first, and what they read and hear.

The ladder over time (tiers, reminders, who took it) is in service/domain/ladder.py.

Plain functions over plain values: the application calls them and records
what they decide; nothing here sends anything or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from service.domain.alerts import AlertKind
from service.domain.notifications import Channel, Notification

DEFAULT_TIERS: list[list[str]] = [["contact_centre"], ["dsl"], ["headteacher", "slt"]]

KIND_WORDS: dict[AlertKind, str] = {
    AlertKind.SOS: "SOS pressed",
    AlertKind.FALL: "fall detected",
    AlertKind.DURESS: "DURESS (safe word used) - do not call the visitor",
    AlertKind.OVERDUE: "visitor overdue",
    AlertKind.DEVICE_OFFLINE: "device offline during a visit",
    AlertKind.LOW_BATTERY: "device battery low during a visit",
    AlertKind.NOTIFICATION_FAILED: "a notification could not be delivered",
}


@dataclass(frozen=True)
class PlannedNotification:
    contact: str
    contact_name: str
    to: str
    channel: Channel
    body: str
    reason: str
    step: str


def request_notification(
    plan: PlannedNotification, *, alert_id: UUID, school: str, body: str, timestamp: datetime
) -> Notification:
    """The outbox entry for a planned message: its id (alert, contact, channel, step) is the
    idempotency key, so asking twice never sends twice."""
    return Notification(
        alert_id=alert_id,
        step=plan.step,
        school=school,
        contact=plan.contact,
        contact_name=plan.contact_name,
        to=plan.to,
        channel=plan.channel.value,
        body=body,
        reason=plan.reason,
        timestamp=timestamp,
    )


def tiers_for(kind: AlertKind, policy: dict[str, Any]) -> list[list[str]]:
    """The roles to tell, tier by tier: the kind's own policy, else the SOS policy, else defaults."""
    for key in (kind.value, "sos"):
        entry = policy.get(key)
        if isinstance(entry, dict) and entry.get("tiers"):
            return [list(tier) for tier in entry["tiers"]]
    return [list(tier) for tier in DEFAULT_TIERS]


def alert_message(
    *,
    kind: AlertKind,
    short_code: str,
    school_name: str,
    visitor: str | None,
    device: str | None,
    raised_at: datetime,
    timezone: str,
) -> str:
    local = raised_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    who = visitor or "unknown visitor"
    via = f" (device {device})" if device else ""
    return (
        f"LONEWATCH {school_name}: {KIND_WORDS[kind]} - {who}{via} at {local}. "
        f"Reply ACK {short_code} to take it."
    )


def first_notifications(
    *,
    kind: AlertKind,
    school: dict[str, Any],
    body: str,
) -> list[PlannedNotification]:
    """Tier 1 of the school's policy for this kind of alert, one SMS per contact with a phone."""
    roles = tiers_for(kind, school.get("policy", {}))[0]
    return [
        PlannedNotification(
            contact=contact["id"],
            contact_name=contact["name"],
            to=contact["phone"],
            channel=Channel.SMS,
            body=body,
            reason=f"policy {kind.value}: tier 1 ({', '.join(roles)})",
            step="tier1",
        )
        for contact in school.get("contacts", [])
        if contact.get("role") in roles and contact.get("phone")
    ]


def spoken_alert(
    *,
    kind: AlertKind,
    short_code: str,
    school_name: str,
    visitor: str | None,
    address: str | None,
    raised_at: datetime,
    timezone: str,
) -> str:
    """What a call reads out before asking for the key press."""
    local = raised_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    where = f" Address: {address}." if address else ""
    return (
        f"Lonewatch alert for {school_name}. {KIND_WORDS[kind]}. "
        f"Visitor: {visitor or 'unknown visitor'}, at {local}.{where} "
        f"Alert code {' '.join(short_code)}."
    )


def taken_message(
    *,
    short_code: str,
    kind: AlertKind,
    visitor: str | None,
    taken_by: str,
    at: datetime,
    timezone: str,
) -> str:
    local = at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return (
        f"LONEWATCH: alert {short_code} ({KIND_WORDS[kind]} - {visitor or 'unknown visitor'}) "
        f"was taken by {taken_by} at {local}. No action needed from you."
    )
