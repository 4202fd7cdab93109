"""A visitor's phone texts the service through the Twilio double, as a phone would: each
command answered with what was recorded, and a concern reaching the DSL's phone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from service.application import visits
from service.application.visits import VisitPlan
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from tests.console_world import devices
from tests.integration.test_twilio_escalation import Running, running
from tests.visit_worlds import HAZARDS

__all__ = ["running"]

JONES, DSL_PHONE = "+447700900001", "+441702000011"


async def a_visit_at_the_property(r: Running) -> None:
    app, now = r.container.app, r.container.clock.now()
    dsl = Principal(username="dsl1", school="lancaster", role=Role.DSL)
    staff = Principal(username="s-jones", school="lancaster", role=Role.STAFF)
    plan = VisitPlan(
        ref="phone-1",
        school="lancaster",
        staff=["s-jones"],
        pupil_ref="UPN-0042",
        address="12 Mountdale Gardens",
        purpose="safe_and_well",
        planned_start=now,
        expected_leave=now + timedelta(minutes=45),
        expected_return=now + timedelta(hours=1),
    )

    def out() -> None:
        visit = visits.plan_visit(app, plan, dsl)
        visits.assess_risk(app, visit.id, dsl, HAZARDS)
        visits.authorise(app, visit.id, dsl)
        devices(r.container).heartbeat("sos-0001", 90)
        r.container.projector.catch_up()
        visits.depart(app, r.container.views, visit.id, staff)
        visits.move(app, visit.id, "arrive", by="s-jones", via="test", principal=None)

    await asyncio.to_thread(out)


async def test_each_text_is_answered_with_what_was_recorded(running: Running) -> None:
    """'Any safeguarding concerns observed during the visit must be reported immediately to
    the DSL.' (King's Academy Gomer)"""
    await a_visit_at_the_property(running)
    webhook, phone = f"{running.public}/webhooks/twilio/sms", running.double

    reply = await phone.phone_texts(webhook, JONES, "Concern - child alone, no adult in")
    assert reply is not None and reply.startswith("Lonewatch: concern 1 recorded")
    [told] = await phone.wait_for_messages(1)
    assert told["form"]["To"] == DSL_PHONE
    assert "safeguarding concern raised during a home visit" in told["form"]["Body"]
    assert "alone" not in told["form"]["Body"]

    assert await phone.phone_texts(webhook, JONES, "extend 20") == (
        "Lonewatch: recorded: 20 min more; expected back by 10:20."
    )
    reply = await phone.phone_texts(webhook, JONES, "ENDED: no responsible adult")
    assert reply is not None and "visit ended early, with your reason" in reply
    reply = await phone.phone_texts(webhook, JONES, "left, next: Tesco car park")
    assert reply is not None and "Where you go next is recorded." in reply
    reply = await phone.phone_texts(webhook, JONES, "where do I send this?")
    assert reply is not None and "texts you can send" in reply
    assert [r["to"] for r in phone.replies] == [JONES] * 5
