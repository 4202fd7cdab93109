"""The dispatcher's own recovery: a requested notification that no live change announced
is found by the sweep and sent; a send that crashes is logged and settled, not forgotten."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from service.domain.alerts.alert import AlertKind
from service.workers.dispatcher import Dispatcher
from tests.harness import eventually
from tests.integration.test_delivery import FAST, ScriptedNotifier
from tests.integration.test_escalation import Ladder


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


def requested(ladder: Ladder) -> list[dict[str, Any]]:
    ladder.world.projector.catch_up()
    return ladder.world.views.find("notification", states=["requested"])


async def test_the_sweep_sends_what_was_requested_while_no_live_change_came(
    ladder: Ladder,
) -> None:
    """As after an outage: the notifications are in the views, but the dispatcher was never
    told of them (no `start`, no live change)."""
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:1", cause={})
    ladder.settle()
    waiting = {(n["channel"], n["to"]) for n in requested(ladder)}
    assert waiting, "the alert asked for nobody"
    notifier = ScriptedNotifier()
    dispatcher = Dispatcher(ladder.app, ladder.world.views, notifier, backoff=FAST)

    assert await dispatcher.sweep() == len(waiting)
    await eventually(lambda: not dispatcher.sending, what="the sends done")
    assert {(channel, to) for channel, to, _ in notifier.asked} == waiting
    assert requested(ladder) == []
    assert await dispatcher.sweep() == 0, "nothing is sent twice"
    await dispatcher.stop()


class CrashingNotifier(ScriptedNotifier):
    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        self.asked.append(("sms", to, key))
        raise KeyError("a bug in the notifier, not a refusal")


async def test_a_send_that_crashes_is_logged_with_its_traceback_and_left_unconfirmed(
    ladder: Ladder,
) -> None:
    ladder.app.raise_staff_alert("s-jones", AlertKind.LOW_BATTERY, cause_key="low:2", cause={})
    ladder.settle()
    sms = [n for n in requested(ladder) if n["channel"] == "sms"]
    notifier = CrashingNotifier()
    dispatcher = Dispatcher(ladder.app, ladder.world.views, notifier, backoff=FAST)

    with capture_logs(processors=[structlog.processors.format_exc_info]) as logs:
        await dispatcher.sweep()
        await eventually(lambda: not dispatcher.sending, what="the sends done")
    await dispatcher.stop()

    crashes = [e for e in logs if e["event"] == "notification_send_crashed"]
    assert {e["notification"] for e in crashes} == {n["id"] for n in sms}
    assert all("KeyError: 'a bug in the notifier" in e["exception"] for e in crashes)
    ladder.world.projector.catch_up()
    for n in sms:
        doc = ladder.world.views.get("notification", n["id"])
        assert doc is not None and doc["state"] == "unknown", doc  # not resent blindly
    assert sorted(a for a in notifier.asked if a[0] == "sms") == sorted(
        ("sms", n["to"], n["id"]) for n in sms
    )
