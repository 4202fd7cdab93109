"""A pair out on a visit, the whole service on a real port, and Priya's phone app as an
MQTT client on the shared Mosquitto: the world where what a visitor says (HELP, the safe
word) is tried by every channel, by text through signed webhooks and from the phone app,
against the Twilio double."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiohttp import ClientSession, web
from twilio.request_validator import RequestValidator

from service.adapters.directory_file import load_directory
from service.application import visits
from service.bootstrap import build, create_app
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from simulators.twilio_double import TwilioDouble
from tests.conftest import MOSQUITTO_HOST, MOSQUITTO_PORT, free_port
from tests.harness import Device, forget_session
from tests.visit_worlds import HAZARDS, VISITS_DIRECTORY, at

SID = "AC" + "d0e55" * 6 + "aa"
TOKEN = "duress-auth-token"
FROM = "+441702999999"
CONTACT_CENTRE = "+441702000010"
PRIYA, ROB = "+447700900003", "+447700900004"  # the pair on the visit
PRIYAS_PHONE = "sos-0003"
VISIT_WORD = "Lighthouse"


@dataclass
class Running:
    container: Container
    double: TwilioDouble
    phone: Device
    public: str
    visit: UUID

    def alerts(self) -> list[dict[str, Any]]:
        self.container.projector.catch_up()
        return self.container.views.find("alert")

    def stored_in_clear(self, word: str) -> bool:
        recorder = self.container.app.recorder
        stored = recorder.select_notifications(start=1, limit=100_000)
        return any(word.lower().encode() in n.state.lower() for n in stored)

    async def text(self, sender: str, body: str, sid: str) -> str:
        form = {"From": sender, "To": FROM, "Body": body, "MessageSid": sid}
        url = f"{self.public}/webhooks/twilio/sms"
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        async with (
            ClientSession() as session,
            session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.text()

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.double.messages if m["form"].get("To") == number]


def _as(username: str, role: Role) -> Principal:
    return Principal(username=username, school="lancaster", role=role)


def a_pair_out_with_their_own_safe_word(c: Container) -> UUID:
    """Priya Patel and Rob Ross, signed out on a visit whose safe word they agreed for it."""
    plan = visits.VisitPlan(
        ref="pair-own-word",
        school="lancaster",
        staff=["p-patel", "r-ross"],
        pupil_ref="UPN-0042",
        address="12 Mountdale Gardens, Leigh-on-Sea",
        purpose="safe_and_well",
        planned_start=at(9, 30),
        expected_leave=at(10, 15),
        expected_return=at(10, 30),
        safe_word=VISIT_WORD,
    )
    visit = visits.plan_visit(c.app, plan, _as("dsl1", Role.DSL))
    visits.assess_risk(c.app, visit.id, _as("dsl1", Role.DSL), HAZARDS)
    visits.authorise(c.app, visit.id, _as("head1", Role.HEADTEACHER))
    visits.depart(c.app, c.views, visit.id, _as("p-patel", Role.STAFF))
    c.projector.catch_up()
    return visit.id


@contextlib.asynccontextmanager
async def a_pair_out_with_priyas_phone(
    sqlite_url: str, mosquitto_url: str, topic_prefix: str, run_id: str
) -> AsyncIterator[Running]:
    """The whole service on a real port (Twilio's callbacks and the SMS webhook reach it),
    its gateway on the shared Mosquitto, Priya's phone app as an MQTT client."""
    client_id = f"lw-duress-{run_id}"
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
            mqtt_url=mosquitto_url,
            mqtt_topic_prefix=topic_prefix,
            mqtt_client_id=client_id,
        )
        container = build(settings, clock=FakeClock(at(9, 0)), backoff=(0.01, 0.01, 0.01))
        container.app.import_directory(load_directory(VISITS_DIRECTORY))
        container.projector.catch_up()
        visit = a_pair_out_with_their_own_safe_word(container)
        runner = web.AppRunner(create_app(container), access_log=None)
        await runner.setup()
        phone: Device | None = None
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            assert container.link is not None
            assert await asyncio.to_thread(container.link.wait_connected, 10)
            phone = await Device.connect(
                MOSQUITTO_HOST, MOSQUITTO_PORT, topic_prefix, PRIYAS_PHONE, f"phone-{run_id}"
            )
            yield Running(container, double, phone, public, visit)
        finally:
            if phone is not None:
                phone.close()
            await runner.cleanup()
            container.close()
            forget_session(MOSQUITTO_HOST, MOSQUITTO_PORT, client_id)
