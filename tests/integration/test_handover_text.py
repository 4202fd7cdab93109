"""A handover texts the colleague it is handed to, through the real `twilio` library
against the local double: what their phone gets, what the alert's record says, and what
the console is told when the text cannot get through.

A receptionist handing an open SOS to the DSL at 3 pm on a Friday expects the DSL's phone
to say so; the text says no more than the other alert texts (kind, visitor, code), never
the handover note, which is free text and may name a family."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from aiohttp import ClientSession, web

from service.adapters.directory_file import load_directory
from service.bootstrap import build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.people.directory import Role, UserSpec
from simulators.twilio_double import TwilioDouble
from tests.conftest import free_port
from tests.console_world import devices
from tests.harness import eventually
from tests.worlds import DIRECTORY

SID = "AC" + "4a7d0e11" * 4
TOKEN = "handover-auth-token"
FROM = "+441702999999"
DSL_MOBILE = "+447700900911"
NOTE = "Police called 15:02, ref 1234; pupil UPN-0042's mother on her way"


class Desk:
    """The service on a real port, the double, and the API as reception1 and dsl1 use it."""

    def __init__(self, container: Container, double: TwilioDouble, public: str) -> None:
        self.container, self.double, self.public = container, double, public

    def alert(self, alert_id: UUID) -> dict[str, Any]:
        self.container.projector.catch_up()
        doc = self.container.views.get("alert", str(alert_id))
        assert doc is not None
        return doc

    async def call(self, user: str, method: str, path: str, **body: Any) -> Any:
        token = self.container.app.issue_token(user)
        async with (
            ClientSession() as session,
            session.request(
                method,
                self.public + path,
                json=body or None,
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.json()

    async def sos_taken_by_reception(self) -> UUID:
        recorded = await asyncio.to_thread(devices(self.container).press, "sos-0001", "hand-1")
        assert recorded.alert_id is not None
        await self.call("reception1", "POST", f"/api/v1/alerts/{recorded.alert_id}/acknowledge")
        return recorded.alert_id

    def texts_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.double.messages if m["form"]["To"] == number]


@pytest.fixture
async def desk(sqlite_url: str) -> AsyncIterator[Desk]:
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
        directory = load_directory(DIRECTORY)
        users = (
            *(
                dataclasses.replace(u, phone=DSL_MOBILE) if u.username == "dsl1" else u
                for u in directory.users
            ),
            UserSpec("admin1", None, Role.ADMIN),
        )
        container.app.import_directory(dataclasses.replace(directory, users=users))
        runner = web.AppRunner(create_app(container, with_mqtt=False), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield Desk(container, double, public)
        finally:
            await runner.cleanup()
            container.close()


async def test_the_colleague_an_alert_is_handed_to_gets_a_text(desk: Desk) -> None:
    desk.double.answer(DSL_MOBILE, "delivered", kinds=("messages",))
    alert_id = await desk.sos_taken_by_reception()
    code = alert_id.hex[:6].upper()

    handed = await desk.call(
        "reception1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="dsl1", note=NOTE
    )

    assert handed["handover"]["texted"] is True
    assert handed["handover"]["said"] == "dsl1 (DSL) is being texted that the alert is theirs."
    [text] = await eventually(lambda: desk.texts_to(DSL_MOBILE), what="the text to the DSL")
    body = text["form"]["Body"]
    assert text["form"]["From"] == FROM
    assert body == (
        f"LONEWATCH Lancaster School: alert {code} (SOS pressed - Sam Jones) was handed to you "
        "by reception1 (contact centre) at 09:00. It is yours now: open the Lonewatch console "
        "for the handover note and follow it up."
    )
    assert "UPN" not in body and "Police" not in body  # the note stays on the console
    assert text["form"]["StatusCallback"].startswith(
        f"{desk.public}/webhooks/twilio/status?notification="
    )
    # On the alert, as the feed shows who has been told, and delivered (the double reports).
    told = await eventually(
        lambda: [
            n
            for n in desk.alert(alert_id)["notifications"].values()
            if n["step"] == "handover" and n.get("delivery") == "delivered"
        ],
        what="the handover text delivered",
    )
    assert told[0]["contact"] == "dsl:dsl1" and told[0]["to"] == DSL_MOBILE
    assert told[0]["requested_at"] == desk.alert(alert_id)["handed_at"]
    # In the alert's timeline, which explains each message.
    timeline = await desk.call("dsl1", "GET", f"/api/v1/timeline?alert={alert_id}")
    summaries = [row["summary"] for row in timeline["events"]]
    handed = (
        f"text to dsl1 (DSL) ({DSL_MOBILE}) requested: the alert was handed to dsl1 (DSL) "
        "by reception1 (contact centre)"
    )
    assert any(s.startswith(handed) for s in summaries), summaries


async def test_a_handover_text_that_cannot_be_delivered_goes_to_the_console(desk: Desk) -> None:
    """Never dropped: the DSL's number refuses texts (STOP), so a red alert tells the console
    that the DSL may not know the alert is theirs."""
    desk.double.refuse(DSL_MOBILE, 21610, kinds=("messages",))
    alert_id = await desk.sos_taken_by_reception()

    await desk.call("reception1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="dsl1")

    def console_alert() -> dict[str, Any] | None:
        desk.container.projector.catch_up()
        found = [
            a
            for a in desk.container.views.find("alert", schools=["lancaster"])
            if a["kind"] == "notification_failed"
        ]
        return found[0] if found else None

    failed = await eventually(console_alert, what="the notification-failed alert")
    assert failed["cause"]["alert"] == str(alert_id)
    assert failed["cause"]["to"] == DSL_MOBILE
    assert failed["severity"] == "red"
    assert not [c for c in desk.double.calls if c["form"]["To"] == DSL_MOBILE]  # no call: taken
    handover = [
        n for n in desk.alert(alert_id)["notifications"].values() if n["step"] == "handover"
    ]
    assert [n["state"] for n in handover] == ["failed"]


async def test_taking_an_alert_over_oneself_texts_nobody(desk: Desk) -> None:
    """The DSL taking over an alert reception holds is at the console already."""
    alert_id = await desk.sos_taken_by_reception()
    took = await desk.call("dsl1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="dsl1")
    assert took["handover"] == {
        "to": "dsl:dsl1",
        "texted": False,
        "notification": None,
        "said": "The alert is yours now.",
    }
    await desk.call("reception1", "POST", f"/api/v1/alerts/{alert_id}/notes", text="a note")
    await asyncio.sleep(0.3)  # the dispatcher has sent what there was (the taken notices)
    assert desk.texts_to(DSL_MOBILE) == []
    assert not [
        n for n in desk.alert(alert_id)["notifications"].values() if n["step"] == "handover"
    ]


async def test_a_mobile_given_in_the_console_gets_the_handover_text(desk: Desk) -> None:
    """The directory file gives reception1 no mobile; the admin gives one on the Users page,
    and the next handover to reception1 reaches that phone."""
    console_mobile = "+447700900922"
    desk.double.answer(console_mobile, "delivered", kinds=("messages",))
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=console_mobile)
    alert_id = await desk.sos_taken_by_reception()
    await desk.call("reception1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="dsl1")

    handed = await desk.call(
        "dsl1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="reception1", note=NOTE
    )

    assert handed["handover"]["texted"] is True
    [text] = await eventually(
        lambda: desk.texts_to(console_mobile), what="the text to reception1's console mobile"
    )
    assert "was handed to you by dsl1 (DSL)" in text["form"]["Body"]
