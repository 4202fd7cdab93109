"""HELP from the phone app raises an SOS exactly as HELP by text does, through the real
service: Mosquitto, the Twilio double, signed webhooks.

"Staff texts: ... `HELP` raises an SOS. A staff member's safe word anywhere in a text raises a
silent duress alert: the reply (if any) must not differ from an ordinary one." (INTERFACES.md
section 3.) The phone app's `message` is the visitor's text by another channel: one rule for
both (service/domain/visits/text_alarms.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.domain import ids
from service.domain.devices.messages import DeviceMessage
from service.domain.people.texts import HELP_REPLY
from tests.harness import eventually
from tests.phone_worlds import (
    CONTACT_CENTRE,
    PRIYA,
    PRIYAS_PHONE,
    ROB,
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


def _messages_from(running: Running, device: str, kind: str) -> int:
    running.container.projector.catch_up()
    found = running.container.views.get("device", device) or {}
    return int((found.get("counts") or {}).get(kind, 0))


async def test_help_from_the_phone_app_raises_an_sos_as_help_by_text_does(
    running: Running,
) -> None:
    """The app's HELP: the red SOS alert, the contact centre's SMS, and `alert_received` on the
    phone's cmd topic, as for a press; Rob's HELP by text raises the same kind of alert."""
    await running.phone.send("message", {"id": "app-h1", "text": "Help"})

    [alert] = await eventually(running.alerts, what="the SOS the app's HELP raised")
    assert (alert["kind"], alert["silent"], alert["severity"]) == ("sos", False, "red")
    assert (alert["staff"], alert["device"]) == ("p-patel", PRIYAS_PHONE)
    answered = await eventually(lambda: running.phone.commands, what="alert_received")
    assert answered == [{"type": "alert_received", "alert_id": alert["id"], "id": "app-h1"}]
    [told] = await running.double.wait_for_messages(1)
    assert told["form"]["To"] == CONTACT_CENTRE
    assert "SOS" in told["form"]["Body"] and "Priya Patel" in told["form"]["Body"]

    # The same text by SMS, from the other visitor: the same kind of alert, the same people told.
    assert HELP_REPLY in await running.text(ROB, "HELP", "SMhelp1")
    alerts = await eventually(lambda: len(running.alerts()) == 2 and running.alerts())
    by_text = next(a for a in alerts if a["staff"] == "r-ross")
    assert (by_text["kind"], by_text["silent"], by_text["severity"]) == ("sos", False, "red")
    both = await running.double.wait_for_messages(2)
    assert [m["form"]["To"] for m in both] == [CONTACT_CENTRE, CONTACT_CENTRE]
    assert running.sent_to(PRIYA) == running.sent_to(ROB) == []


async def test_a_repeat_of_the_apps_help_is_recorded_once_and_answered_again(
    running: Running,
) -> None:
    """The same device and id are recorded once (INTERFACES.md section 2): a repeat of the
    app's HELP raises no second alert and sends no second SMS, and is answered
    `alert_received` again, as a repeated press is (a phone that did not hear the first
    answer asks again)."""
    await running.phone.send("message", {"id": "app-h2", "text": "HELP"})
    [alert] = await eventually(running.alerts, what="the SOS the app's HELP raised")
    await running.double.wait_for_messages(1)
    await eventually(lambda: running.phone.commands, what="alert_received")

    await running.phone.send("message", {"id": "app-h2", "text": "HELP"})
    await running.phone.send("heartbeat", {"id": "after-the-repeat"})  # the repeat is settled
    await eventually(lambda: _messages_from(running, PRIYAS_PHONE, "heartbeat") == 1)
    assert [a["id"] for a in running.alerts()] == [alert["id"]]
    assert _messages_from(running, PRIYAS_PHONE, "message") == 1
    await asyncio.sleep(0.5)
    assert len(running.double.messages) == 1
    answer = {"type": "alert_received", "alert_id": alert["id"], "id": "app-h2"}
    assert running.phone.commands == [answer, answer]


async def test_help_with_the_safe_word_from_the_app_is_silent_duress_answered_as_help(
    running: Running,
) -> None:
    """HELP with the safe word raises the silent duress alert and no SOS, and the phone is
    answered exactly as for HELP alone (`alert_received` for its message): whoever holds it
    sees no difference."""
    await running.phone.send("message", {"id": "app-d1", "text": "HELP heron"})

    [alert] = await eventually(running.alerts, what="the duress alert")
    assert (alert["kind"], alert["silent"]) == ("duress", True)
    answered = await eventually(lambda: running.phone.commands, what="the answer to HELP")
    assert answered == [{"type": "alert_received", "alert_id": alert["id"], "id": "app-d1"}]
    [told] = await running.double.wait_for_messages(1)
    assert told["form"]["To"] == CONTACT_CENTRE and "DURESS" in told["form"]["Body"]
    message = running.container.app.repository.get(ids.device_message_id(PRIYAS_PHONE, "app-d1"))
    assert isinstance(message, DeviceMessage)
    assert message.fields["text"] == "HELP [redacted]"
    assert not running.stored_in_clear("heron")
    await asyncio.sleep(0.5)
    assert len(running.phone.commands) == 1
    assert [a["kind"] for a in running.alerts()] == ["duress"]
    assert running.sent_to(PRIYA) == running.sent_to(ROB) == []
