"""TwilioNotifier with the real `twilio` library against the local Twilio double.

Twilio has no idempotency key, so a failed send must never be repeated behind
the caller's back: every test also checks that exactly one request went out.
"""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs
from twilio.rest import Client

from service.adapters.notifiers.base import NotificationError
from service.adapters.notifiers.twilio_notifier import (
    RebasedAsyncHttpClient,
    TwilioNotifier,
    rebase_url,
)
from service.logs import masked_phone
from simulators.twilio_double import TwilioDouble

ACCOUNT_SID = "AC" + "5afe" * 8
AUTH_TOKEN = "integration-auth-token"
FROM_NUMBER = "+441702000099"
TO = "+447700900001"

MakeNotifier = Callable[..., TwilioNotifier]


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble(ACCOUNT_SID, AUTH_TOKEN) as double:
        yield double


@pytest.fixture
async def make_notifier(double: TwilioDouble) -> AsyncIterator[MakeNotifier]:
    made: list[TwilioNotifier] = []

    def make(**overrides: Any) -> TwilioNotifier:
        settings: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": FROM_NUMBER,
            "api_base": double.base_url,
        }
        made.append(TwilioNotifier(**(settings | overrides)))
        return made[-1]

    yield make
    for notifier in made:
        await notifier.aclose()


@pytest.mark.parametrize(("outcome", "code"), [("fail_500", "20500"), ("fail_429", "20429")])
async def test_server_error_or_throttling_is_retryable_and_sent_once(
    double: TwilioDouble, make_notifier: MakeNotifier, outcome: Any, code: str
) -> None:
    double.script(messages=[outcome])

    with pytest.raises(NotificationError) as raised:
        await make_notifier().send_sms(to=TO, body="SOS", key="n-1")

    assert raised.value.retryable is True
    assert code in str(raised.value)
    assert len(double.messages) == 1


async def test_invalid_number_is_not_retryable(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    double.script(messages=["fail_400"])

    with pytest.raises(NotificationError) as raised:
        await make_notifier().send_sms(to="+44123", body="SOS", key="n-1")

    assert raised.value.retryable is False
    assert "21211" in str(raised.value)
    assert "not a valid phone number" in str(raised.value)
    assert len(double.messages) == 1


async def test_slow_twilio_is_cut_off_at_the_timeout(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    double.script(messages=["slow"], delay_seconds=3)
    notifier = make_notifier(timeout_seconds=0.5)

    started = time.monotonic()
    with pytest.raises(NotificationError) as raised:
        await notifier.send_sms(to=TO, body="SOS", key="n-1")
    elapsed = time.monotonic() - started

    assert raised.value.retryable is True
    assert 0.45 <= elapsed < 1.5
    assert len(double.messages) == 1


async def test_wrong_auth_token_is_not_retryable(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    with pytest.raises(NotificationError) as raised:
        await make_notifier(auth_token="not-the-token").send_sms(to=TO, body="SOS", key="n-1")

    assert raised.value.retryable is False
    assert "20003" in str(raised.value)
    [request] = double.messages
    assert request["authorized"] is False


async def test_unreachable_twilio_is_retryable(make_notifier: MakeNotifier) -> None:
    async with TwilioDouble(ACCOUNT_SID, AUTH_TOKEN) as gone:
        closed_base = gone.base_url

    with pytest.raises(NotificationError) as raised:
        await make_notifier(api_base=closed_base).send_sms(to=TO, body="SOS", key="n-1")

    assert raised.value.retryable is True


async def test_a_send_after_a_failure_is_one_new_request(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    double.script(messages=["fail_500", "ok"])
    notifier = make_notifier()

    with pytest.raises(NotificationError):
        await notifier.send_sms(to=TO, body="SOS", key="n-1")
    sid = await notifier.send_sms(to=TO, body="SOS", key="n-1")

    assert sid.startswith("SM")
    assert [m["status"] for m in await double.wait_for_messages(2)] == [500, 201]


async def test_status_callback_url_is_sent_when_configured(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    callback = "https://lonewatch.example/webhooks/twilio/status"

    await make_notifier(status_callback_url=callback).send_sms(to=TO, body="a", key="n-1")
    await make_notifier().send_sms(to=TO, body="b", key="n-2")

    with_callback, without = double.messages
    assert with_callback["form"]["StatusCallback"] == callback
    assert "StatusCallback" not in without["form"]


async def test_logs_name_the_key_and_the_recipients_last_digits_never_the_auth_token(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    double.script(messages=["ok", "fail_400"])
    notifier = make_notifier()

    with capture_logs() as logs:
        await notifier.send_sms(to=TO, body="SOS", key="n-1")
        with pytest.raises(NotificationError):
            await notifier.send_sms(to=TO, body="SOS", key="n-2")

    assert [(line["event"], line["key"], line["to"]) for line in logs] == [
        ("sms_sent", "n-1", masked_phone(TO)),
        ("sms_failed", "n-2", masked_phone(TO)),
    ]
    assert AUTH_TOKEN not in repr(logs)


async def test_aclose_leaves_no_unclosed_client_session(make_notifier: MakeNotifier) -> None:
    notifier = make_notifier()
    await notifier.send_sms(to=TO, body="SOS", key="n-1")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await notifier.aclose()
        del notifier
        gc.collect()

    assert not [w for w in caught if "Unclosed" in str(w.message)]


@pytest.mark.parametrize(
    ("api_base", "expected"),
    [
        (None, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"),
        ("http://127.0.0.1:8099", "http://127.0.0.1:8099/2010-04-01/Accounts/AC1/Messages.json"),
        ("http://proxy:80/twilio/", "http://proxy:80/twilio/2010-04-01/Accounts/AC1/Messages.json"),
    ],
)
def test_rebase_url_swaps_host_and_keeps_path(api_base: str | None, expected: str) -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"

    assert rebase_url(url, api_base) == expected


def test_rebase_also_redirects_regional_hosts() -> None:
    url = "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Calls.json"

    assert rebase_url(url, "http://localhost:1") == (
        "http://localhost:1/2010-04-01/Accounts/AC1/Calls.json"
    )


async def test_double_creates_calls_the_real_library_can_read(double: TwilioDouble) -> None:
    http = RebasedAsyncHttpClient(double.base_url)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    try:
        call = await client.calls.create_async(
            to=TO, from_=FROM_NUMBER, twiml="<Response><Say>Press 1</Say></Response>"
        )
    finally:
        await http.close()

    assert call.sid.startswith("CA")
    assert call.status == "queued"
    assert call.to == TO
    [request] = await double.wait_for_calls(1)
    assert request["form"]["Twiml"] == "<Response><Say>Press 1</Say></Response>"


async def test_double_is_scripted_and_inspected_over_http(
    double: TwilioDouble, make_notifier: MakeNotifier
) -> None:
    async with aiohttp.ClientSession(double.base_url) as http:
        async with http.post("/_double/behaviour", json={"messages": ["fail_400"]}) as response:
            assert response.status == 200
        async with http.post("/_double/behaviour", json={"messages": ["explode"]}) as response:
            assert response.status == 400
            assert "fail_500" in await response.text()
        with pytest.raises(NotificationError):
            await make_notifier().send_sms(to=TO, body="SOS", key="n-1")
        async with http.get("/_double/messages") as response:
            [request] = await response.json()
        async with http.post("/_double/reset") as response:
            assert response.status == 200

    assert request["outcome"] == "fail_400"
    assert request["form"]["To"] == TO
    assert double.messages == []
