"""A notification that fails is retried and, if it still fails, shown as an alert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.config import Settings
from service.notifiers.twilio_notifier import TwilioNotifier
from service.wiring import Container
from simulators.twilio_double import TwilioDouble
from tests.harness import eventually, service_in_process

ACCOUNT, AUTH = "AC" + "d" * 32, "delivery-token"


@pytest.fixture
async def delivery(database_url: str) -> AsyncIterator[tuple[Container, TwilioDouble]]:
    async with TwilioDouble(ACCOUNT, AUTH) as double:
        notifier = TwilioNotifier(
            ACCOUNT, AUTH, "+441702999999", api_base=double.base_url, timeout_seconds=2
        )
        async with service_in_process(
            Settings(database_url=database_url), notifier=notifier, with_mqtt=False
        ) as c:
            c.dispatcher.backoff = (0.05, 0.05)  # three tries, quickly
            yield c, double


async def an_sos(c: Container, message_id: str) -> str:
    recorded = await asyncio.to_thread(
        c.app.record_device_message,
        device="sos-0001",
        kind="sos",
        message_id=message_id,
        device_ts=None,
        fields={},
    )
    return str(recorded.alert_id)


def alert(c: Container, alert_id: str) -> dict[str, Any]:
    return c.views.get("alert", alert_id) or {}


async def test_a_server_error_is_retried_until_the_sms_goes(delivery: Any) -> None:
    c, double = delivery
    double.script(messages=["fail_500", "fail_500"])
    alert_id = await an_sos(c, "retry-1")
    await eventually(
        lambda: alert(c, alert_id).get("state") == "notified", what="the alert notified"
    )
    await eventually(
        lambda: all(n["state"] == "sent" for n in alert(c, alert_id)["notifications"].values()),
        what="both SMS sent",
    )
    assert len(double.messages) == 4  # two refused, two accepted
    assert c.views.find("alert", states=["raised", "notified"]) == [alert(c, alert_id)]


async def test_a_notification_that_still_fails_becomes_an_alert_on_the_console(
    delivery: Any,
) -> None:
    c, double = delivery
    double.script(messages=["fail_400", "fail_400"])  # invalid number: not retryable
    alert_id = await an_sos(c, "fail-1")
    await eventually(
        lambda: len([a for a in c.views.find("alert") if a["kind"] == "notification_failed"]) == 2,
        what="a notification_failed alert for each SMS",
    )
    failed = [a for a in c.views.find("alert") if a["kind"] == "notification_failed"]
    assert {f["cause"]["alert"] for f in failed} == {alert_id}
    assert all(f["severity"] == "red" and "21211" in f["cause"]["error"] for f in failed)
    states = {n["state"] for n in alert(c, alert_id)["notifications"].values()}
    assert states == {"failed"}


async def test_retries_give_up_after_the_last_backoff(delivery: Any) -> None:
    c, double = delivery
    double.script(messages=["fail_500"] * 6)
    await an_sos(c, "down-1")
    await eventually(
        lambda: len([a for a in c.views.find("alert") if a["kind"] == "notification_failed"]) == 2,
        what="both notifications given up",
    )
    assert len(double.messages) == 6  # 3 tries each
