"""A notification that fails is retried and, if it still fails, shown as an alert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.adapters.notifiers.twilio_notifier import TwilioNotifier
from service.config import Settings
from service.container import Container
from simulators.twilio_double import TwilioDouble
from tests.console_world import devices
from tests.harness import eventually, service_in_process

ACCOUNT, AUTH = "AC" + "d" * 32, "delivery-token"
PUBLIC = "https://lonewatch.example.org"


@pytest.fixture
async def delivery(database_url: str) -> AsyncIterator[tuple[Container, TwilioDouble]]:
    async with TwilioDouble(ACCOUNT, AUTH) as double:
        notifier = TwilioNotifier(
            ACCOUNT,
            AUTH,
            "+441702999999",
            api_base=double.base_url,
            timeout_seconds=2,
            public_url=PUBLIC,
        )
        settings = Settings(database_url=database_url, public_url=PUBLIC)
        async with service_in_process(
            settings,
            notifier=notifier,
            with_mqtt=False,
            backoff=(0.05, 0.05),  # three tries, quickly
        ) as c:
            yield c, double


async def an_sos(c: Container, message_id: str) -> str:
    recorded = await asyncio.to_thread(devices(c).press, "sos-0001", message_id)
    return str(recorded.alert_id)


def states(c: Container, alert_id: str, channel: str) -> set[str]:
    alert = c.views.get("alert", alert_id) or {}
    return {n["state"] for n in alert.get("notifications", {}).values() if n["channel"] == channel}


def failures(c: Container, alert_id: str) -> list[dict[str, Any]]:
    return [
        a
        for a in c.views.find("alert")
        if a["kind"] == "notification_failed" and a["cause"]["alert"] == alert_id
    ]


async def test_a_server_error_is_retried_until_the_sms_goes(delivery: Any) -> None:
    c, double = delivery
    double.script(messages=["fail_500", "fail_500"])
    alert_id = await an_sos(c, "retry-1")
    await eventually(lambda: states(c, alert_id, "sms") == {"sent"}, what="both SMS sent")
    assert len(double.messages) == 4  # two refused, two accepted
    assert failures(c, alert_id) == []


async def test_numbers_refused_for_good_alert_the_console_and_pass_each_tier_at_once(
    delivery: Any,
) -> None:
    """Every number refused (21211, an invalid number): each contact's text and call fail once
    (no retries), the console gets a notification_failed alert per contact, and a tier nobody
    in it can be reached is passed at once, not after ack_within."""
    c, double = delivery
    double.script(messages=["fail_400"] * 10, calls=["fail_400"] * 10)  # invalid numbers
    alert_id = await an_sos(c, "fail-1")
    await eventually(
        lambda: len(failures(c, alert_id)) == 5, what="a notification_failed alert per contact"
    )
    failed = failures(c, alert_id)
    assert all(f["severity"] == "red" for f in failed)
    assert {f["cause"]["refusal"] for f in failed} == {
        "number refused: not a valid phone number — 21211"
    }
    assert states(c, alert_id, "sms") == {"failed"}
    assert len(double.messages) == 5 and len(double.calls) == 5  # one try each, never retried


async def test_retries_give_up_after_the_last_backoff(delivery: Any) -> None:
    c, double = delivery
    double.script(messages=["fail_500"] * 6)
    alert_id = await an_sos(c, "down-1")
    await eventually(lambda: states(c, alert_id, "sms") == {"failed"}, what="both SMS given up")
    assert len(double.messages) == 6  # three tries each, then no more


async def test_a_provider_failing_every_try_is_named_by_health_until_a_text_goes(
    delivery: Any,
) -> None:
    """Twilio answering 500 to everything: the tries are retried and given up on, each with
    a notification_failed alert, and health said "ok" throughout. Now it names the failure
    from the first failed try until something is sent again."""
    c, double = delivery
    double.script(messages=["fail_500"] * 20, calls=["fail_500"] * 20)
    alert_id = await an_sos(c, "provider-down-1")
    await eventually(lambda: states(c, alert_id, "sms") == {"failed"}, what="SMS given up")
    ok, body = await c.health.check()
    [reason] = [r for r in body["reasons"] if r.startswith("notifications: the last try failed")]
    assert "HTTP 500" in reason, reason
    assert not ok and body["checks"]["notifications"]["last_failed_try_age_s"] < 60

    double.script(messages=[], calls=[])  # Twilio is back
    await asyncio.to_thread(devices(c).press, "sos-0002", "after-recovery")
    # At the boundary: a text the double took. The first alert's calls are still being
    # retried, and one of them may be the first thing sent once Twilio is back.
    await eventually(
        lambda: (
            c.dispatcher.tries.last_sent_at and [m for m in double.messages if m["status"] == 201]
        ),
        what="a text sent again",
    )
    _, body = await c.health.check()
    assert not [r for r in body["reasons"] if r.startswith("notifications: the last try")]
