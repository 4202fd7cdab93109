"""The notifier port's contract, run against every adapter.

The Twilio adapter runs the real `twilio` library against a local double of
Twilio's REST API, so what is checked is what Twilio would receive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from service.adapters.notifiers.base import Notifier
from service.adapters.notifiers.console_notifier import ConsoleNotifier
from service.adapters.notifiers.twilio_notifier import TwilioNotifier
from simulators.twilio_double import TwilioDouble

ACCOUNT_SID = "AC" + "c0ffee" * 5 + "00"
AUTH_TOKEN = "contract-auth-token"
FROM_NUMBER = "+441702000099"


@dataclass
class NotifierWorld:
    notifier: Notifier
    received: Callable[[], list[dict[str, Any]]]
    """What reached the far side, as {"to", "body"} per message, oldest first."""
    double: TwilioDouble | None = None


@pytest.fixture(params=["console", "twilio"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[NotifierWorld]:
    if request.param == "console":
        console = ConsoleNotifier()
        yield NotifierWorld(
            console, lambda: [{"to": m["to"], "body": m["body"]} for m in console.sent]
        )
        await console.aclose()
        return
    async with TwilioDouble(ACCOUNT_SID, AUTH_TOKEN) as double:
        twilio = TwilioNotifier(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=double.base_url)
        yield NotifierWorld(
            twilio,
            lambda: [{"to": m["form"]["To"], "body": m["form"]["Body"]} for m in double.messages],
            double,
        )
        await twilio.aclose()


async def test_send_sms_returns_an_id_and_the_message_arrives_once(world: NotifierWorld) -> None:
    message_id = await world.notifier.send_sms(
        to="+447700900001", body="SOS from Sam Jones: reply ACK", key="n-1"
    )

    assert isinstance(message_id, str)
    assert message_id
    assert world.received() == [{"to": "+447700900001", "body": "SOS from Sam Jones: reply ACK"}]


async def test_each_message_gets_its_own_id(world: NotifierWorld) -> None:
    first = await world.notifier.send_sms(to="+447700900001", body="one", key="n-1")
    second = await world.notifier.send_sms(to="+447700900002", body="two", key="n-2")

    assert first != second
    assert [m["to"] for m in world.received()] == ["+447700900001", "+447700900002"]


async def test_aclose_may_be_called_again(world: NotifierWorld) -> None:
    await world.notifier.send_sms(to="+447700900001", body="one", key="n-1")

    await world.notifier.aclose()
    await world.notifier.aclose()


async def test_twilio_gets_one_authenticated_request_from_our_number() -> None:
    async with TwilioDouble(ACCOUNT_SID, AUTH_TOKEN) as double:
        twilio = TwilioNotifier(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=double.base_url)
        try:
            sid = await twilio.send_sms(to="+447700900001", body="hello", key="n-1")
        finally:
            await twilio.aclose()

    [request] = double.messages
    assert request["authorized"] is True
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["form"] == {"To": "+447700900001", "From": FROM_NUMBER, "Body": "hello"}
    assert sid.startswith("SM")
    assert len(sid) == 34
