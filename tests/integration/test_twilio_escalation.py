"""An SOS through the real `twilio` library against the local double, and back through our
signed webhooks: texts and calls to the right numbers with the right words, a key press
that takes the alert, and callbacks nobody signed refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from aiohttp import ClientSession, web
from twilio.request_validator import RequestValidator

from service.adapters.directory_file import load_directory
from service.bootstrap import build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from simulators.twilio_double import TwilioDouble
from tests.conftest import free_port
from tests.console_world import devices
from tests.harness import eventually
from tests.worlds import DIRECTORY

SID = "AC" + "e5ca1a7e" * 4
TOKEN = "escalation-auth-token"
FROM = "+441702999999"
CC1, CC2 = "+441702000010", "+441702000014"


class Running:
    def __init__(self, container: Container, double: TwilioDouble, public: str) -> None:
        self.container, self.double, self.public = container, double, public

    def alert(self, alert_id: UUID) -> dict[str, Any]:
        self.container.projector.catch_up()
        doc = self.container.views.get("alert", str(alert_id))
        assert doc is not None
        return doc

    async def sos(self) -> UUID:
        recorded = await asyncio.to_thread(devices(self.container).press, "sos-0001", "e2e-1")
        assert recorded.alert_id is not None
        return recorded.alert_id


@pytest.fixture
async def running(sqlite_url: str) -> AsyncIterator[Running]:
    """The whole service on a real port (Twilio's callbacks must reach it) and the double."""
    async with TwilioDouble(SID, TOKEN) as double:
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=sqlite_url,
            http_addr=f"127.0.0.1:{port}",
            public_url=public,
            twilio_account_sid=SID,
            twilio_auth_token=TOKEN,
            twilio_from_number=FROM,
            twilio_api_base=double.base_url,
        )
        container = build(settings, clock=FakeClock(), backoff=(0.01, 0.01, 0.01))
        container.app.import_directory(load_directory(DIRECTORY))
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield Running(container, double, public)
        finally:
            await runner.cleanup()
            container.close()


async def test_an_sos_becomes_texts_and_calls_and_a_key_press_takes_it(running: Running) -> None:
    double = running.double
    double.script(messages=["delivered", "delivered"], calls=["no_answer", "pressed"])

    alert_id = await running.sos()

    texts = await double.wait_for_messages(2)
    calls = await double.wait_for_calls(2)
    code = alert_id.hex[:6].upper()
    assert sorted(m["form"]["To"] for m in texts) == [CC1, CC2]
    assert sorted(c["form"]["To"] for c in calls) == [CC1, CC2]
    for message in texts:
        assert message["form"]["From"] == FROM
        assert message["form"]["Body"].startswith("LONEWATCH Lancaster School: SOS pressed - ")
        assert (
            f"Sam Jones (device sos-0001) at 09:00. Reply ACK {code} to take it."
            in (message["form"]["Body"])
        )
        assert message["form"]["StatusCallback"].startswith(
            f"{running.public}/webhooks/twilio/status?notification="
        )
    for call in calls:
        assert call["form"]["Url"].startswith(
            f"{running.public}/webhooks/twilio/voice/alert?notification="
        )
        assert call["form"]["MachineDetection"] == "Enable"

    alert = await eventually(
        lambda: (a := running.alert(alert_id))["acknowledged_by"] and a, what="key press"
    )
    assert alert["acknowledged_via"] == "voice"
    taker = alert["acknowledged_by"]
    assert taker in {"Contact centre desk", "Reception desk"}
    [gather] = await eventually(
        lambda: [c for c in double.callbacks if c["form"].get("Digits") == "1"],
        what="the double's record of its key press",
    )
    assert "/webhooks/twilio/voice/gather?notification=" in gather["url"]
    assert gather["status"] == 200 and "you have taken alert" in gather["body"]

    # Everyone else told hears who took it; the delivery reports are on the alert.
    taken = await double.wait_for_messages(3)
    other = CC2 if taker == "Contact centre desk" else CC1
    assert taken[2]["form"]["To"] == other and f"taken by {taker}" in taken[2]["form"]["Body"]
    await eventually(
        lambda: (
            sorted(
                n.get("delivery") or ""
                for n in running.alert(alert_id)["notifications"].values()
                if n["step"] == "tier1"
            )
            == ["answered", "delivered", "delivered", "no_answer"]
        ),
        what="delivery reports",
    )


async def test_the_spoken_alert_asks_for_1_and_a_voicemail_is_not_asked(running: Running) -> None:
    running.double.script(calls=["voicemail", "answered"])

    await running.sos()
    fetched = await eventually(
        lambda: (
            len([c for c in running.double.callbacks if "/voice/alert" in c["url"]]) == 2
            and [c for c in running.double.callbacks if "/voice/alert" in c["url"]]
        ),
        what="both calls answered",
    )

    by_machine = {c["form"]["AnsweredBy"]: c["body"] for c in fetched}
    assert "<Gather" in by_machine["human"] and 'numDigits="1"' in by_machine["human"]
    assert "Press 1 to take this alert." in by_machine["human"]
    assert "SOS pressed. Visitor: Sam Jones" in by_machine["human"]
    assert "<Gather" not in by_machine["machine_end_beep"]
    assert "does not take the alert" in by_machine["machine_end_beep"]


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/twilio/status?notification=00000000-0000-0000-0000-000000000000",
        "/webhooks/twilio/voice/alert?notification=00000000-0000-0000-0000-000000000000",
        "/webhooks/twilio/voice/gather?notification=00000000-0000-0000-0000-000000000000",
        "/webhooks/twilio/sms",
    ],
)
async def test_unsigned_or_missigned_webhooks_are_refused(running: Running, path: str) -> None:
    """A bad or missing X-Twilio-Signature gets 403 and records nothing."""
    form = {"CallSid": "CA1", "CallStatus": "in-progress", "Digits": "1", "From": CC1}
    head = running.container.app.recorder.max_notification_id()
    wrong = RequestValidator("not-the-token").compute_signature(running.public + path, form)
    async with ClientSession() as session:
        for headers in ({}, {"X-Twilio-Signature": wrong}):
            async with session.post(running.public + path, data=form, headers=headers) as response:
                assert response.status == 403
    assert running.container.app.recorder.max_notification_id() == head


async def test_the_figures_are_served_for_a_month(running: Running) -> None:
    running.double.script(calls=["pressed", "no_answer"])
    alert_id = await running.sos()
    await eventually(lambda: running.alert(alert_id)["acknowledged_by"], what="key press")
    token = running.container.app.issue_token("dsl1")
    headers = {"Authorization": f"Bearer {token}"}
    async with ClientSession() as session:
        url = f"{running.public}/api/v1/kpis"
        async with session.get(url, params={"month": "2026-11"}, headers=headers) as response:
            assert response.status == 200
            figures = (await response.json())["schools"]["lancaster"]
        async with session.get(url, params={"month": "November"}, headers=headers) as response:
            assert response.status == 400
            assert "month=YYYY-MM" in (await response.json())["detail"]
    assert figures["alarms"] == 1 and figures["acknowledged_within_10s"] == 1.0
    assert figures["by_kind"] == {"sos": 1}
