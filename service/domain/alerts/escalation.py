"""Escalation policy rules: the one reader of a school's escalation policies, who is told of an
alert first, what they read and hear, and how a planned message becomes a `Notification`.

The ladder over time (tiers, reminders, who took it) is in service/domain/alerts/ladder.py.

Plain functions over plain values: the application calls them and records
what they decide; nothing here sends anything or reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.notifications import Channel, Notification
from service.domain.people.naming import person

DEFAULT_TIERS: list[list[str]] = [["contact_centre"], ["dsl"], ["headteacher", "slt"]]

KIND_WORDS: dict[AlertKind, str] = {
    AlertKind.SOS: "SOS pressed",
    AlertKind.FALL: "fall detected",
    AlertKind.DURESS: "DURESS (safe word used) - do not call the visitor",
    AlertKind.OVERDUE: "visitor overdue",
    AlertKind.DEVICE_OFFLINE: "device offline during a visit",
    AlertKind.LOW_BATTERY: "device battery low during a visit",
    AlertKind.NOTIFICATION_FAILED: "a notification could not be delivered",
    AlertKind.ARC_UNREACHABLE: "the alarm receiving centre is not answering",
    AlertKind.CONCERN: "safeguarding concern raised during a home visit (read it on the console)",
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
    purpose: str = ""
    """What the message is for (`first:tier2`, `reminder:3`, `fallback:<id>`, `taken`); part of
    its id, so two purposes never share one. Empty: the step names it (`step:<step>`)."""
    plan: dict[str, Any] | None = None
    """The step the reason tells, as values (ladder_state.Step.plan)."""


def request_notification(
    plan: PlannedNotification,
    *,
    alert_id: UUID,
    school: str,
    timestamp: datetime,
    body: str | None = None,
) -> Notification:
    """The outbox entry for a planned message, the one place one is made. Its id (subject,
    contact, channel, purpose) is the idempotency key, so asking twice never sends twice.
    `alert_id` is what the message is about: an alert, or a visit (a prompt to the visitor)."""
    return Notification(
        alert_id=alert_id,
        step=plan.step,
        school=school,
        contact=plan.contact,
        contact_name=plan.contact_name,
        to=plan.to,
        channel=plan.channel.value,
        body=plan.body if body is None else body,
        reason=plan.reason,
        timestamp=timestamp,
        purpose=plan.purpose or f"step:{plan.step}",
        plan=plan.plan,
    )


CONSOLE_ONLY = frozenset({AlertKind.NOTIFICATION_FAILED, AlertKind.ARC_UNREACHABLE})
"""Alerts about Lonewatch's own links: on the console, told to people only under a policy of
their own name (a failed message, or a silent ARC, must not start a loop of messages)."""
POLICY_KEYS: dict[AlertKind, str] = {AlertKind.NOTIFICATION_FAILED: "notification_failure"}
"""The directory names one policy differently from the alert kind."""
OWN_LADDER: dict[AlertKind, str] = {
    AlertKind.OVERDUE: (
        "escalated by the visit's own overdue steps (visitor, then reception rings home, "
        "then senior leaders)"
    ),
}
"""Kinds that climb the tiers only when their own policy names tiers: otherwise a
ladder of their own (the policies' overdue steps) is their escalation, and a second
ladder would tell the same people twice."""
KIND_TIERS: dict[AlertKind, list[list[str]]] = {
    AlertKind.CONCERN: [["dsl"], ["headteacher", "slt"]]
}
"""Kinds whose ladder starts elsewhere than the contact centre when the school names no policy
of their own: a concern "must be reported immediately to the DSL" (King's Academy Gomer), on
the SOS policy's timings."""
DEFAULT_ACK_WITHIN = 60
DEFAULT_RENOTIFY_EVERY = 60


# -- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The escalation policy an alert follows, as recorded when its escalation starts."""

    name: str
    ack_within: int
    renotify_every: int
    tiers: tuple[tuple[str, ...], ...]

    def as_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ack_within": self.ack_within,
            "renotify_every": self.renotify_every,
            "tiers": [list(t) for t in self.tiers],
        }

    @staticmethod
    def from_data(data: dict[str, Any]) -> Policy:
        return Policy(
            name=str(data["name"]),
            ack_within=int(data["ack_within"]),
            renotify_every=int(data["renotify_every"]),
            tiers=tuple(tuple(t) for t in data["tiers"]),
        )

    @property
    def every(self) -> timedelta:
        return timedelta(seconds=self.renotify_every)


def policy_for(kind: AlertKind, school_policy: dict[str, Any]) -> Policy | None:
    """The kind's own policy, else the school's SOS policy, else the defaults.

    The one reader of the directory's escalation policies. A notification failure
    escalates to people only when the school names a `notification_failure` policy;
    otherwise it stays on the console (and a failed message about a failed message can
    never start a loop).
    """
    own = POLICY_KEYS.get(kind, kind.value)
    entry = school_policy.get(own)
    if kind in OWN_LADDER and not (isinstance(entry, dict) and entry.get("tiers")):
        return None
    if not isinstance(entry, dict) or not entry:
        if kind in CONSOLE_ONLY:
            return None
        entry, own = school_policy.get("sos"), "sos"
        if not isinstance(entry, dict):
            entry, own = {}, "default"
        if kind in KIND_TIERS:
            entry, own = {**entry, "tiers": KIND_TIERS[kind]}, kind.value
    return Policy(
        name=own,
        ack_within=max(1, int(entry.get("ack_within", DEFAULT_ACK_WITHIN))),
        renotify_every=max(1, int(entry.get("renotify_every", DEFAULT_RENOTIFY_EVERY))),
        tiers=tuple(tuple(t) for t in (entry.get("tiers") or DEFAULT_TIERS)),
    )


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    role: str
    phone: str

    def as_data(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role, "phone": self.phone}


def contacts_in(school: dict[str, Any], roles: Sequence[str]) -> tuple[Contact, ...]:
    """The school's contacts with one of `roles` and a phone, in directory order."""
    return tuple(
        Contact(id=c["id"], name=c["name"], role=c["role"], phone=c["phone"])
        for c in school.get("contacts", [])
        if c.get("role") in roles and c.get("phone")
    )


def first_plan(policy: Policy, *, at_once: bool = False, called: bool = False) -> dict[str, Any]:
    """Tier 1 of `policy` as a step's values: texted with the alert; `at_once`, the start
    step (the calls, too, when `called`)."""
    said: dict[str, Any] = {"policy": policy.name, "step": "first", "tier": 1}
    said["roles"] = list(policy.tiers[0])
    return {**said, "at_once": True, "called": called} if at_once else said


def first_notifications(
    *, kind: AlertKind, school: dict[str, Any], body: str
) -> list[PlannedNotification]:
    """Tier 1 of the school's policy for this kind: one SMS each, requested with the alert."""
    policy = policy_for(kind, school.get("policy", {}))
    if policy is None or not policy.tiers:
        return []
    reason = f"policy {policy.name}: tier 1 ({', '.join(policy.tiers[0])})"
    said = first_plan(policy)
    return [
        PlannedNotification(
            contact=c.id,
            contact_name=c.name,
            to=c.phone,
            channel=Channel.SMS,
            body=body,
            reason=reason,
            step="tier1",
            purpose="first:tier1",
            plan=said,
        )
        for c in contacts_in(school, policy.tiers[0])
    ]


def alert_message(
    *,
    kind: AlertKind,
    short_code: str,
    school_name: str,
    visitor: str | None,
    device: str | None,
    raised_at: datetime,
    timezone: str,
    where: str | None = None,
    visit_address: str | None = None,
) -> str:
    """`where`: the device's location in words (service.domain.devices.location.describe);
    `visit_address`: the address of the home visit the visitor is out on. The pupil's
    reference is never in a text: whoever holds the phone may not be allowed it."""
    local = raised_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    who = visitor or "unknown visitor"
    via = f" (device {device})" if device else ""
    visit = f", on a home visit at {visit_address}" if visit_address else ""
    at = f" Location: {where}." if where else ""
    return (
        f"LONEWATCH {school_name}: {KIND_WORDS[kind]} - {who}{via} at {local}{visit}.{at} "
        f"Reply ACK {short_code} to take it."
    )


def spoken_alert(
    *,
    kind: AlertKind,
    short_code: str,
    school_name: str,
    visitor: str | None,
    address: str | None,
    raised_at: datetime,
    timezone: str,
    visit_address: str | None = None,
) -> str:
    """What a call reads out before asking for the key press: where the visit is, then
    where the device last said it was (`address`, a spoken location), when they differ."""
    local = raised_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    visit = f" On a home visit at {visit_address}." if visit_address else ""
    where = (
        f" {'Last known location' if visit_address else 'Address'}: {address}."
        if address and address != visit_address
        else ""
    )
    return (
        f"Lonewatch alert for {school_name}. {KIND_WORDS[kind]}. "
        f"Visitor: {visitor or 'unknown visitor'}, at {local}.{visit}{where} "
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
        f"LONEWATCH: {_alert_words(short_code, kind, visitor)} "
        f"was taken by {person(taken_by)} at {local}. No action needed from you."
    )


def handover_message(
    *,
    short_code: str,
    kind: AlertKind,
    school_name: str,
    visitor: str | None,
    handed_by: str,
    at: datetime,
    timezone: str,
) -> str:
    """The text to the colleague an open alert is handed to. As much as the other alert
    texts say (kind, visitor, code) and no more: the handover note is free text that may
    name a pupil or a family, so it is read on the console, never sent to a phone."""
    local = at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return (
        f"LONEWATCH {school_name}: {_alert_words(short_code, kind, visitor)} was handed to "
        f"you by {handed_by} at {local}. It is yours now: open the Lonewatch console for the "
        "handover note and follow it up."
    )


def _alert_words(short_code: str, kind: AlertKind, visitor: str | None) -> str:
    """'alert 0C187D (SOS pressed - Sam Jones)': an alert named in a text about it."""
    return f"alert {short_code} ({KIND_WORDS[kind]} - {visitor or 'unknown visitor'})"
