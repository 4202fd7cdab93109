"""Notification ids say what a message is for, so no two purposes share one; notifications
stored before purposes existed keep loading under the ids they were stored with."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid5

import pytest

from service.domain import ids
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import PlannedNotification, request_notification
from service.domain.alerts.notifications import Channel
from tests.integration.test_escalation import Ladder


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


def test_a_fallback_a_reminder_and_a_tier_step_never_share_an_id() -> None:
    alert = UUID(int=7)
    purposes = ["first:tier1", "reminder:1", "fallback:" + str(UUID(int=9)), "taken", "step:x"]
    made = {ids.notification_id(alert, "cc-1", "voice", p) for p in purposes}
    assert len(made) == len(purposes)
    # What ids were before purposes (stored notifications keep these): unchanged.
    assert ids.legacy_notification_id(alert, "cc-1", "voice", "tier1") == uuid5(
        ids.NAMESPACE, f"notification/{alert}/cc-1/voice/tier1"
    )


def an_old_notification(ladder: Ladder, alert_id: UUID, step: str) -> UUID:
    """A notification as stored before purposes: a `Requested` event with no `purpose`, under
    the id derived from (alert, contact, channel, step)."""
    plan = PlannedNotification(
        contact="cc-1",
        contact_name="Contact centre desk",
        to="+441702000010",
        channel=Channel.SMS,
        body="old text",
        reason="policy sos: re-notify round 1",
        step=step,
    )
    new = request_notification(
        plan, alert_id=alert_id, school="lancaster", timestamp=ladder.clock.now()
    )
    [event] = new.collect_events()
    old_id = ids.legacy_notification_id(alert_id, "cc-1", "sms", step)
    object.__setattr__(event, "originator_id", old_id)
    object.__delattr__(event, "purpose")
    ladder.app.events.put([event])
    return old_id


def test_an_old_notification_loads_falls_back_and_its_fallback_finds_it(ladder: Ladder) -> None:
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()
    [alert] = ladder.world.views.find("alert")
    alert_id = UUID(alert["id"])
    old_id = an_old_notification(ladder, alert_id, "renotify1")

    old = ladder.app.notification(old_id)
    assert (old.id, old.purpose, old.step) == (old_id, "", "renotify1")

    ladder.app.record_notification_failed(old_id, "SMS not sent (HTTP 500)", final=True)
    ladder.world.projector.catch_up()
    [fallback] = [
        n for n in ladder.notifications() if n["channel"] == "voice" and n["step"] == "renotify1"
    ]
    assert UUID(fallback["id"]) == ids.notification_id(
        alert_id, "cc-1", "voice", f"fallback:{old_id}"
    )
    assert ladder.app.notification(UUID(fallback["id"])).purpose == f"fallback:{old_id}"

    ladder.app.record_notification_failed(UUID(fallback["id"]), "call not placed", final=True)
    ladder.world.projector.catch_up()
    failed = [a for a in ladder.world.views.find("alert") if a["kind"] == "notification_failed"]
    assert [a["cause"]["notification"] for a in failed] == [fallback["id"]]
    texts = [
        n for n in ladder.notifications() if n["channel"] == "sms" and n["step"] == "renotify1"
    ]
    assert [n["id"] for n in texts] == [str(old_id)]  # a failed fallback does not fall back again
