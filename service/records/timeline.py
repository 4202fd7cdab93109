"""The DSL's replay: the recorded events about one alert, device or person, in order,
each with its position, recorded time, source and meaning in plain words.

The index (a projection) only says *which* events belong to a subject; the events
themselves are read from the event store, so the timeline is the record itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections.core import event_name
from projections.store import ViewStore
from projections.visit_timeline import describe as describe_visit_event
from service.adapters.event_rows import notifications_at
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import location_of
from service.domain.people.naming import people_named
from service.records.narrative import Narrator, source_words

_HIDDEN = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


def _source_and_summary(event: Any, zone: tzinfo = UTC) -> tuple[str, str]:
    name = event_name(event)
    visit = describe_visit_event(event, zone)
    if visit is not None:
        return visit
    if name == "DeviceMessage.Received":
        fields = event.fields or {}
        via = f" via {fields['source']}" if fields.get("source") else ""
        where = describe_location(location_of(fields))
        at = f" at {where}" if where else ""
        # A visitor's message in their words as stored: a safe word is already `[redacted]`.
        said = f': "{fields["text"]}"' if event.kind == "message" and fields.get("text") else ""
        return f"device:{event.device}", f"device {event.device} sent {event.kind}{via}{at}{said}"
    if name == "Alert.Raised":
        return "system", raised_words(event)
    if name == "Alert.PressedAgain":
        return "system", f"pressed {event.count} more time(s) while the alert was open"
    if name == "Alert.Notified":
        return "notifier", f"{event.contact} was notified"
    if name == "Alert.DeliveryFailed":
        return "notifier", f"{event.channel} to {event.contact} failed for good"
    if name == "Alert.Acknowledged":
        return event.by, f"acknowledged by {event.by} (via {event.via})"
    if name == "Alert.Resolved":
        return event.by, f"resolved by {event.by}: {event.outcome} - {event.note}"
    if name == "Notification.Requested":
        return (
            f"policy:{event.step}",
            f"{event.channel} to {event.contact_name} ({event.to}) requested: {event.reason}",
        )
    if name == "Notification.Sent":
        return "notifier", f"notification accepted by provider ({event.provider_id})"
    if name == "Notification.AttemptFailed":
        outcome = "gave up" if event.final else "will retry"
        return "notifier", f"notification attempt failed ({event.error}); {outcome}"
    return _escalation_summary(event, name, zone)


CAUSE_WORDS = {
    "sos": "the SOS button",
    "fall": "a fall detected by the device",
    "checkin": "a check-in",
    "message": "a message",  # not "a message message"
}
"""What a device sent that raised the alert (the cause's `device_kind`)."""


def raised_words(event: Any) -> str:
    """'duress alert raised: the safe word in a text; silent: nothing was sent to the
    visitor': the kind, what raised it and how, from the alert's own recorded cause.
    A cause that names no channel reads as before."""
    cause = event.cause or {}
    kind = str(getattr(event.kind, "value", event.kind))
    how: list[str] = []
    if kind == "duress":
        how.append("the safe word")
    if cause.get("via") == "sms":
        how.append("in a text" if kind == "duress" else "by text")
    elif cause.get("device_kind") and (kind == "duress" or cause["device_kind"] != kind):
        # An SOS from an SOS press: the device's row just above already says so.
        what = CAUSE_WORDS.get(str(cause["device_kind"]), f"a {cause['device_kind']} message")
        device = f" on device {event.device}" if getattr(event, "device", None) else ""
        how.append(f"{what}{device}" if kind != "duress" else f"in {what}{device}")
    elif cause.get("via"):
        how.append(f"via {cause['via']}")
    words = f"{kind} alert raised"
    if how:
        words += ": " + " ".join(how)
    where = describe_location(cause.get("location"))
    if where:
        words += f" at {where}"
    if getattr(event, "silent", False):
        words += "; silent: nothing was sent to the visitor"
    return words


_UNTIL_UTC = re.compile(r"\buntil (\d\d):(\d\d):(\d\d) UTC\b")


def local_until(words: str, recorded_at: datetime, zone: tzinfo) -> str:
    """'held back ... until 07:35:32 UTC' (the ladder, pure, words its times in UTC) as the
    school's clock shows it, with the zone: the day is the one nearest the recorded time."""

    def local(match: re.Match[str]) -> str:
        hour, minute, second = (int(g) for g in match.groups())
        recorded = recorded_at.astimezone(UTC)
        at = recorded.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if at < recorded - timedelta(hours=12):
            at += timedelta(days=1)
        shown = at.astimezone(zone)
        return f"until {shown:%H:%M:%S} {shown.tzname()}"

    return _UNTIL_UTC.sub(local, words)


def _escalation_summary(event: Any, name: str, zone: tzinfo = UTC) -> tuple[str, str]:
    """The escalation ladder's and the outbox's own events (service/application/escalation.py)."""
    if name.startswith("ArcMessage."):
        return _arc_summary(event, name)
    if name == "Alert.Escalated":
        return f"policy:{event.step['step']}", local_until(
            event.step["reason"], event.timestamp, zone
        )
    if name == "Notification.AttemptStarted":
        return "notifier", f"try {event.attempt} started"
    if name == "Notification.Unconfirmed":
        return "notifier", f"outcome unknown: {event.reason}"
    if name == "Notification.Cancelled":
        return "notifier", f"not sent: {event.reason}"
    if name == "Notification.Refused":
        return "twilio", f"{event.words}: not retried, not asked again on this alert"
    if name == "Notification.StatusReported":
        by = f" (answered by {event.answered_by})" if event.answered_by else ""
        return "twilio", f"provider reported {event.status}{by}"
    return "system", name


def _arc_summary(event: Any, name: str) -> tuple[str, str]:
    """The alarm receiving centre's messages (service/application/arc.py)."""
    if name == "ArcMessage.Requested":
        return "arc", f"SIA DC-09 {event.code} (zone {event.zone}) for the ARC at {event.arc}"
    if name == "ArcMessage.Tried":
        return "arc", f"DC-09 try {event.attempt} (sequence {event.sequence:04d}): {event.detail}"
    if name == "ArcMessage.Unreachable":
        return (
            "arc",
            f"no ACK from the ARC after {event.after_s:.0f} s: arc_unreachable alert raised",
        )
    return "arc", name


def _data(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _HIDDEN}


def subject_events(
    app: Application[UUID], views: ViewStore, subject: str, *, as_of: datetime | None = None
) -> list[tuple[int, Any]]:
    """(position, event) for every recorded event about a subject, in the order recorded."""
    entries = views.index(subject)
    # One query by position, not one per aggregate (10,000 heartbeats are 10,000 aggregates).
    to_domain_event = app.mapper.to_domain_event
    in_order: list[tuple[int, Any]] = []
    for notification in notifications_at(app.recorder, [e.position for e in entries]):
        event: Any = to_domain_event(notification)
        if as_of is None or event.timestamp <= as_of:
            in_order.append((notification.id, event))
    return in_order


def timeline(
    app: Application[UUID],
    views: ViewStore,
    subject: str,
    *,
    as_of: datetime | None = None,
    zone: tzinfo = UTC,
) -> list[dict[str, Any]]:
    return as_rows(subject_events(app, views, subject, as_of=as_of), zone)


def as_rows(
    events: Iterable[tuple[int, Any]],
    zone: tzinfo = UTC,
    names: Callable[[str], str | None] | None = None,
    *,
    with_data: bool = True,
) -> list[dict[str, Any]]:
    """The rows of one record, worded in order (a try names no one: its request does);
    times within the words are told in `zone`, the school's; a staff member is named by
    `names(staff_id)` (the directory's name) where it knows them. Without `with_data`, no
    row carries its event's fields nor its stream's id (the printed page shows neither)."""
    narrator = Narrator()
    said: dict[tuple[Any, ...], str] = {}
    return [
        as_row(position, event, narrator, zone, names, said, with_data=with_data)
        for position, event in events
    ]


def as_row(
    position: int,
    event: Any,
    narrator: Narrator | None = None,
    zone: tzinfo = UTC,
    names: Callable[[str], str | None] | None = None,
    said: dict[tuple[Any, ...], str] | None = None,
    *,
    with_data: bool = True,
) -> dict[str, Any]:
    """One line of a timeline: when, who or what said so, what it means, and whether it is
    the outbox's machinery (`detail`: shown folded, never dropped). `said`: sources and
    summaries already put in words for this record (a device's 10,000 heartbeats say the
    same two things 10,000 times)."""
    narrator = narrator or Narrator()
    worded = narrator.words(event)
    if worded is None:
        (source, summary), detail = _source_and_summary(event, zone), False
        if source.startswith("policy:"):  # an escalation step (Alert.Escalated)
            values = (getattr(event, "step", None) or {}).get("plan")
            summary = local_until(narrator.plan(summary, values), event.timestamp, zone)
    else:
        source, summary, detail = worded
    said = {} if said is None else said
    who = said.get(("who", source))
    if who is None:
        who = said[("who", source)] = source_words(source)
    named = said.get(("summary", summary))
    if named is None:
        named = said[("summary", summary)] = people_named(summary)
    if names is not None:  # `names` is one directory for the whole record: kept by text
        also = getattr(event, "staff", ())
        also_key = also if isinstance(also, str) else tuple(also)
        found = said.get(("named who", who))
        if found is None:
            found = said[("named who", who)] = staff_named(who, names)
        who = found
        found = said.get(("named summary", named, also_key))
        if found is None:
            found = said[("named summary", named, also_key)] = staff_named(named, names, also)
        named = found
    row = {
        "position": position,
        "recorded_at": event.timestamp,
        "event": event_name(event),
        "source": source,
        "who": who,
        "summary": named,
        "detail": detail,
    }
    if with_data:
        # The stream's id as text (`str(UUID)` is Python: ~1 µs, 10,000 times a record)
        # only where it is read: the printed page shows it nowhere. Keys in this order.
        row["aggregate_id"] = str(event.originator_id)
    row["version"] = event.originator_version
    if with_data:
        row["data"] = _data(event)
    return row


_STAFF = re.compile(r"(?<![\w.@+-])([\w.@+-]+) \(staff\)")


def staff_named(
    text: str, names: Callable[[str], str | None], also: Iterable[str] | str = ()
) -> str:
    """'s-jones (staff)' -> 'Sam Jones'; and each id in `also` (a visit's visitors, as its
    plan names them) by name where the directory knows it."""
    text = _STAFF.sub(lambda m: names(m.group(1)) or m.group(0), text)
    for key in [also] if isinstance(also, str) else also:
        name = names(str(key))
        if name:
            text = re.sub(rf"(?<![\w.@+-]){re.escape(str(key))}(?![\w@+-])", name, text)
    return text
