"""The DSL's replay: the recorded events about one alert, device or person, in order,
each with its position, recorded time, source and meaning in plain words.

The index (a projection) only says *which* events belong to a subject; the events
themselves are read from the event store, so the timeline is the record itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections.store import ViewStore
from projections.views import event_name
from service.event_store import notifications_at

_HIDDEN = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


def _source_and_summary(event: Any) -> tuple[str, str]:
    name = event_name(event)
    if name == "DeviceMessage.Received":
        return f"device:{event.device}", f"device {event.device} sent {event.kind}"
    if name == "Alert.Raised":
        return "system", f"{event.kind} alert raised"
    if name == "Alert.Notified":
        return "notifier", f"{event.contact} was notified"
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
    return "system", name


def _data(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in _HIDDEN}


def timeline(
    app: Application[UUID], views: ViewStore, subject: str, *, as_of: datetime | None = None
) -> list[dict[str, Any]]:
    """The subject's events in the order they were recorded; with `as_of`, only those
    recorded by then. Read in one query by position, not one per aggregate."""
    positions = [entry.position for entry in views.index(subject)]
    rows: list[dict[str, Any]] = []
    to_domain_event = app.mapper.to_domain_event
    for notification in notifications_at(app.recorder, positions):
        event: Any = to_domain_event(notification)
        if as_of is not None and event.timestamp > as_of:
            continue
        source, summary = _source_and_summary(event)
        rows.append(
            {
                "position": notification.id,
                "recorded_at": event.timestamp,
                "event": event_name(event),
                "source": source,
                "summary": summary,
                "aggregate_id": str(notification.originator_id),
                "version": event.originator_version,
                "data": _data(event),
            }
        )
    return rows
