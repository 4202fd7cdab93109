"""A reply from a user's mobile (the directory file's `phone`, or the one an admin gave on
the Users page) is that user's: texted through our signed webhook as Twilio posts it (the
local double signs it and hands the phone our TwiML reply), ACK with the alert's code
takes the alert, recorded as the user themself, as if they had pressed "Take" on the
console. A mobile changed or removed on the Users page stops being theirs at once.

A DSL handed an alert at 3 pm on a Friday answers the text on their phone; before this,
the answer was dropped as a stranger's."""

from __future__ import annotations

import asyncio
from uuid import UUID

from service.domain.ids import inbound_sms_id
from tests.console_world import devices
from tests.harness import eventually
from tests.integration import test_handover_text as handover
from tests.integration.test_handover_text import DSL_MOBILE, Desk

desk = handover.desk  # the service on a real port with the double, dsl1's mobile in the file

MOBILE = "+447700900933"
OTHER = "+447700900944"
CC1 = "+441702000010"  # the contact centre desk, told of every SOS first
A_LEAD = "+441702000011"  # the directory's DSL contact, A. Lead


async def an_sos(desk: Desk) -> tuple[UUID, str]:
    """Sam presses the fob; nobody has taken it. Its code, as the texts give it."""
    recorded = await asyncio.to_thread(devices(desk.container).press, "sos-0001", "mob-1")
    assert recorded.alert_id is not None
    desk.alert(recorded.alert_id)  # the views have it: a texted code is looked up there
    return recorded.alert_id, recorded.alert_id.hex[:6].upper()


async def texts(desk: Desk, sender: str, body: str) -> str | None:
    return await desk.double.phone_texts(desk.public + "/webhooks/twilio/sms", sender, body)


def taken(reply: str | None, code: str) -> bool:
    return reply == (
        f"Lonewatch: you have taken alert {code} (sos). "
        "Everyone else told of it is being told you have it."
    )


async def test_a_mobile_given_on_the_users_page_takes_an_alert_by_text(desk: Desk) -> None:
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=MOBILE)
    alert_id, code = await an_sos(desk)

    reply = await texts(desk, MOBILE, f"ack {code}")

    assert taken(reply, code)
    assert desk.double.replies[-1] == {"to": MOBILE, "body": reply, "in_reply_to": f"ack {code}"}
    alert = desk.alert(alert_id)
    assert alert["acknowledged_by"] == "operator:reception1"  # the user, as the console records
    assert alert["acknowledged_via"] == "sms"
    # Everyone told of it hears who has it, at their phones.
    news = await eventually(
        lambda: [m for m in desk.texts_to(CC1) if "taken by" in m["form"]["Body"]],
        what="the 'taken by' text to the contact centre",
    )
    assert "taken by reception1 (contact centre)" in news[0]["form"]["Body"]


async def test_the_directory_files_mobile_takes_an_alert_and_is_told_a_handed_alert_is_theirs(
    desk: Desk,
) -> None:
    alert_id, code = await an_sos(desk)
    assert taken(await texts(desk, DSL_MOBILE, f"ACK {code}"), code)
    assert desk.alert(alert_id)["acknowledged_by"] == "dsl:dsl1"

    # Handed back to dsl1 after reception took it over: a bare ACK to that text is answered.
    await desk.call("reception1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="reception1")
    await desk.call("reception1", "POST", f"/api/v1/alerts/{alert_id}/handover", to="dsl1")
    desk.alert(alert_id)
    reply = await texts(desk, DSL_MOBILE, "ACK")
    assert reply == f"Lonewatch: alert {code} is already yours: it was handed to you."


async def test_a_mobile_changed_or_removed_on_the_users_page_is_no_longer_theirs(
    desk: Desk,
) -> None:
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=MOBILE)
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=OTHER)
    alert_id, code = await an_sos(desk)

    assert await texts(desk, MOBILE, f"ACK {code}") is None  # a stranger's now: no reply
    assert desk.alert(alert_id)["acknowledged_by"] is None

    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=None)
    assert await texts(desk, OTHER, f"ACK {code}") is None
    assert desk.alert(alert_id)["acknowledged_by"] is None
    assert [r["to"] for r in desk.double.replies] == []


async def test_a_disabled_users_mobile_takes_nothing(desk: Desk) -> None:
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=MOBILE)
    await desk.call("admin1", "POST", "/api/v1/users/reception1/disable", reason="left")
    alert_id, code = await an_sos(desk)

    assert await texts(desk, MOBILE, f"ACK {code}") is None
    assert desk.alert(alert_id)["acknowledged_by"] is None


async def test_a_number_shared_with_a_directory_contact_stays_the_contacts(desk: Desk) -> None:
    """As a number shared by a visitor and a contact stays the visitor's, a user's mobile
    counts after the directory's staff and contacts: what worked before works the same."""
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=A_LEAD)
    alert_id, code = await an_sos(desk)

    assert taken(await texts(desk, A_LEAD, f"ACK {code}"), code)
    assert desk.alert(alert_id)["acknowledged_by"] == "A. Lead"


async def test_an_admins_mobile_takes_an_alert_of_any_school(desk: Desk) -> None:
    """An admin belongs to no school and sees every one: their code is looked up in all."""
    await desk.call("admin1", "POST", "/api/v1/users/admin1/phone", phone=MOBILE)
    alert_id, code = await an_sos(desk)

    assert taken(await texts(desk, MOBILE, f"ACK {code}"), code)
    assert desk.alert(alert_id)["acknowledged_by"] == "admin:admin1"


async def test_a_retried_ack_gets_the_first_reply_again_and_is_recorded_once(
    desk: Desk,
) -> None:
    """Twilio posts a text again when our answer was slow: the phone must get the same
    answer the second time (not silence), and the text be recorded once."""
    await desk.call("admin1", "POST", "/api/v1/users/reception1/phone", phone=MOBILE)
    alert_id, code = await an_sos(desk)
    first = await texts(desk, MOBILE, f"ACK {code}")
    recorder = desk.container.app.recorder
    text_id = inbound_sms_id(str(desk.double.last_inbound_sid))

    def recorded() -> tuple[int, list[str]]:
        """The text's events, and how many times the alert was taken."""
        taken = [e for e in recorder.select_events(alert_id) if e.topic.endswith("Acknowledged")]
        return len(taken), [e.topic for e in recorder.select_events(text_id)]

    before = recorded()

    again = await desk.double.retries_last_text()

    assert taken(first, code) and again == first
    assert (
        desk.double.replies[-2:]
        == [{"to": MOBILE, "body": first, "in_reply_to": f"ACK {code}"}] * 2
    )
    # Nothing recorded twice: not the text, not the taking (the service's other work, the
    # news to everyone told, goes on meanwhile).
    assert recorded() == before and before[0] == 1
    assert desk.alert(alert_id)["acknowledged_by"] == "operator:reception1"


async def test_a_retried_contact_text_gets_the_first_reply_again(desk: Desk) -> None:
    """A directory contact's text that takes nothing is answered with how to take one; the
    retry of it is answered alike."""
    await an_sos(desk)
    first = await texts(desk, A_LEAD, "on my way")
    assert first == "Lonewatch: reply ACK and the alert's code to take an alert."
    assert await desk.double.retries_last_text() == first
