"""The outbox: every try recorded before it is made, fallbacks, and restarts that never
send twice (Twilio has no idempotency key)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from service.adapters.notifiers.base import NotificationError
from service.application import outbox
from service.domain.alerts.alert import AlertKind
from service.workers.dispatcher import Dispatcher
from tests.harness import eventually
from tests.integration.test_escalation import Ladder

FAST = (0.001, 0.001, 0.001)


class ScriptedNotifier:
    """Fails the channels it is told to fail; remembers everything it was asked to send."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.asked: list[tuple[str, str, str]] = []

    async def _go(self, channel: str, to: str, key: str) -> str:
        self.asked.append((channel, to, key))
        if channel in self.failing:
            raise NotificationError(f"{channel} to {to} refused", retryable=True)
        return f"{channel}-{len(self.asked)}"

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        return await self._go("sms", to, key)

    async def place_call(self, *, to: str, say: str, key: str) -> str:
        return await self._go("voice", to, key)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    """SQLite only: these are rules, not storage (the restart test runs on both stores)."""
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


async def dispatch(ladder: Ladder, notifier: ScriptedNotifier) -> Dispatcher:
    """Run a dispatcher over what is pending until nothing is pending or in flight."""
    dispatcher = Dispatcher(ladder.app, ladder.world.views, notifier, backoff=FAST)
    for _ in range(10):
        ladder.world.projector.catch_up()
        await dispatcher.start()
        await eventually(lambda: not dispatcher._inflight, what="dispatcher idle")
        ladder.world.projector.catch_up()
        if not ladder.world.views.find("notification", states=["requested"]):
            break
    await dispatcher.stop()
    return dispatcher


def by_state(ladder: Ladder) -> dict[tuple[str, str], str]:
    return {(n["channel"], n["to"]): n["state"] for n in ladder.notifications()}


async def test_a_failed_sms_falls_back_to_a_call(ladder: Ladder) -> None:
    """A failed request is retried with backoff, then falls back (SMS to call)."""
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()
    notifier = ScriptedNotifier(failing={"sms"})

    await dispatch(ladder, notifier)

    assert [a[:2] for a in notifier.asked].count(("sms", "+441702000010")) == 4  # 1 + 3 retries
    assert by_state(ladder) == {
        ("sms", "+441702000010"): "failed",
        ("sms", "+441702000014"): "failed",
        ("voice", "+441702000010"): "sent",
        ("voice", "+441702000014"): "sent",
    }
    calls = [n for n in ladder.notifications() if n["channel"] == "voice"]
    assert all(n["reason"].startswith("fallback: the sms failed") for n in calls)
    assert not [a for a in ladder.world.views.find("alert") if a["kind"] == "notification_failed"]


async def test_when_both_channels_fail_the_console_gets_a_notification_failed_alert(
    ladder: Ladder,
) -> None:
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()

    await dispatch(ladder, ScriptedNotifier(failing={"sms", "voice"}))

    failed = [a for a in ladder.world.views.find("alert") if a["kind"] == "notification_failed"]
    assert sorted(a["cause"]["to"] for a in failed) == ["+441702000010", "+441702000014"]
    assert all(a["severity"] == "red" for a in failed)


async def test_a_try_cut_short_by_a_crash_is_not_sent_again(ladder: Ladder) -> None:
    """Between Twilio accepting and `Sent` being recorded the process died: on restart the
    notification is marked unconfirmed (not resent), and the status callback settles it."""
    ladder.sos()
    first = min((n for n in ladder.notifications() if n["channel"] == "sms"), key=lambda n: n["to"])
    assert outbox.start_attempt(ladder.app, UUID(first["id"]))  # ...and then the crash
    notifier = ScriptedNotifier()

    await dispatch(ladder, notifier)  # the restarted service

    assert first["id"] not in {key for _, _, key in notifier.asked}
    assert len(notifier.asked) == 3  # the other text and the two calls
    doc: Any = ladder.world.views.get("notification", first["id"])
    assert doc["state"] == "unknown"
    outbox.report_status(
        ladder.app, UUID(first["id"]), status="delivered", provider_id="SM9", answered_by=None
    )
    ladder.world.projector.catch_up()
    doc = ladder.world.views.get("notification", first["id"])
    assert (doc["state"], doc["delivery"]) == ("sent", "delivered")


async def test_a_notification_whose_alert_was_taken_meanwhile_is_cancelled(ladder: Ladder) -> None:
    alert_id = ladder.sos()
    ladder.app.acknowledge_alert(alert_id, by="operator:reception1", via="api")
    ladder.settle()
    notifier = ScriptedNotifier()

    await dispatch(ladder, notifier)

    steps = {n["step"]: set() for n in ladder.notifications()}
    for n in ladder.notifications():
        steps[n["step"]].add(n["state"])
    assert steps == {"tier1": {"cancelled"}, "taken": {"sent"}}
    assert {channel for channel, _, _ in notifier.asked} == {"sms"}


async def test_an_unconfirmed_try_with_no_report_counts_as_undelivered_and_falls_back(
    ladder: Ladder,
) -> None:
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()
    first = min(ladder.notifications(), key=lambda n: n["to"])
    assert outbox.start_attempt(ladder.app, UUID(first["id"]))  # ...and then the crash
    await dispatch(ladder, ScriptedNotifier())

    ladder.after(119)
    assert not [n for n in ladder.notifications() if n["channel"] == "voice"]
    ladder.after(1)

    doc: Any = ladder.world.views.get("notification", first["id"])
    assert (doc["state"], doc["delivery"]) == ("unknown", "unreported")
    [call] = [n for n in ladder.notifications() if n["channel"] == "voice"]
    assert call["to"] == first["to"] and call["reason"].startswith("fallback: the sms failed")
