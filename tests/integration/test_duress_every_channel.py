"""The visit's safe word, by text and from the phone app, through the real service: the
Twilio double, Mosquitto, signed webhooks. One duress rule for every channel.

'If working as a pair agree a safe word or phrase to alert a colleague that you need
assistance or should leave. The same code word should be used if you contact school to
alert them that you are in danger and need support.' (policy 002)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.domain import ids
from service.domain.devices.messages import DeviceMessage
from service.domain.people.texts import InboundSms
from tests.harness import eventually
from tests.phone_worlds import (
    CONTACT_CENTRE,
    PRIYA,
    ROB,
    VISIT_WORD,
    Running,
    a_pair_out_with_priyas_phone,
)


@pytest.fixture
async def running(
    sqlite_url: str, mosquitto_url: str, topic_prefix: str, run_id: str
) -> AsyncIterator[Running]:
    async with a_pair_out_with_priyas_phone(
        sqlite_url, mosquitto_url, topic_prefix, run_id
    ) as world:
        yield world


async def test_the_visits_safe_word_from_the_phone_app_raises_silent_duress(
    running: Running,
) -> None:
    """The phone app's `message` is checked for the visit's safe word, as a text is."""
    await running.phone.send("message", {"id": "app-1", "text": "All fine here, lighthouse."})

    [alert] = await eventually(running.alerts, what="the duress alert")
    assert (alert["kind"], alert["silent"], alert["severity"]) == ("duress", True, "red")
    told = await running.double.wait_for_messages(1)
    assert [m["form"]["To"] for m in told] == [CONTACT_CENTRE]
    assert (
        "DURESS" in told[0]["form"]["Body"] and "do not call the visitor" in told[0]["form"]["Body"]
    )

    message = running.container.app.repository.get(ids.device_message_id("sos-0003", "app-1"))
    assert isinstance(message, DeviceMessage)
    assert message.fields["text"] == "All fine here, [redacted]."
    assert not running.stored_in_clear(VISIT_WORD)
    await asyncio.sleep(0.5)  # time enough for anything that was going to reach the phone
    assert running.phone.commands == [], "nothing goes back to the phone on duress"
    assert running.sent_to(PRIYA) == running.sent_to(ROB) == []


async def test_the_visits_safe_word_by_text_raises_silent_duress_with_the_ordinary_reply(
    running: Running,
) -> None:
    """'A staff member's safe word anywhere in a text raises a silent duress alert: the reply
    (if any) must not differ from an ordinary one' — the visit's word as well as their own:
    the reply is the one the same text gets without the word."""
    ordinary = await running.text(PRIYA, "ok see you later", "SMdur1")
    assert running.alerts() == []
    duress = await running.text(PRIYA, "ok LIGHTHOUSE see you later", "SMdur2")
    assert duress == ordinary

    [alert] = await eventually(running.alerts, what="the duress alert")
    assert (alert["kind"], alert["silent"], alert["staff"]) == ("duress", True, "p-patel")
    told = await running.double.wait_for_messages(1)
    assert [m["form"]["To"] for m in told] == [CONTACT_CENTRE]
    assert "DURESS" in told[0]["form"]["Body"]

    sms = running.container.app.repository.get(ids.inbound_sms_id("SMdur2"))
    assert isinstance(sms, InboundSms)
    assert sms.text == "ok [redacted] see you later"
    assert not running.stored_in_clear(VISIT_WORD)
    await asyncio.sleep(0.5)
    assert running.sent_to(PRIYA) == running.sent_to(ROB) == []


async def test_the_staff_members_own_word_from_the_phone_app_still_raises_duress(
    running: Running,
) -> None:
    """The visit's word is checked as well as the staff member's own, not instead of it."""
    await running.phone.send("message", {"id": "app-2", "text": "Heron"})
    [alert] = await eventually(running.alerts, what="the duress alert")
    assert (alert["kind"], alert["silent"]) == ("duress", True)
    assert not running.stored_in_clear("heron")
    await running.double.wait_for_messages(1, timeout=10)
    assert running.phone.commands == []
