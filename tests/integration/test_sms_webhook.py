"""Texts through the signed Twilio webhook (INTERFACES.md section 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from service.adapters.directory_file import load_directory
from service.container import Container
from service.domain.people.directory import Directory
from tests.harness import DIRECTORY
from tests.trust_api import PUBLIC_URL as PUBLIC
from tests.trust_api import Api, text, texting, trust_api


@pytest.fixture
async def webhook(database_url: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    async with trust_api(aiohttp_client, texting(database_url)) as it:
        yield it


def alerts(container: Container) -> list[dict[str, Any]]:
    container.projector.catch_up()
    return container.views.find("alert")


async def test_unsigned_or_missigned_texts_are_refused_and_record_nothing(webhook: Any) -> None:
    client, container = webhook
    head = container.app.recorder.max_notification_id()
    assert (await text(client, "+447700900001", "HELP", "SM1", sign=False)).status == 403
    form = {"From": "+447700900001", "Body": "HELP", "MessageSid": "SM2"}
    bad = RequestValidator("wrong-token").compute_signature(f"{PUBLIC}/webhooks/twilio/sms", form)
    response = await client.post(
        "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": bad}
    )
    assert response.status == 403
    assert container.app.recorder.max_notification_id() == head


async def test_the_safe_word_raises_a_silent_duress_alert_with_an_ordinary_reply(
    webhook: Any,
) -> None:
    """A staff member's safe word anywhere in a text raises a silent duress alert: the reply
    must not differ from an ordinary one."""
    client, container = webhook
    ordinary = await (await text(client, "+447700900001", "OK running late", "SM10")).text()
    duress = await (
        await text(client, "+447700900001", "ok, Bluebird! see you soon", "SM11")
    ).text()
    assert duress == ordinary
    [alert] = alerts(container)
    assert (alert["kind"], alert["silent"], alert["severity"]) == ("duress", True, "red")
    notifications = container.views.find("notification")
    assert notifications and all("do not call the visitor" in n["body"] for n in notifications)


async def test_the_safe_word_is_never_stored_in_clear(webhook: Any) -> None:
    client, container = webhook
    await text(client, "+447700900001", "all fine bluebird", "SM12")
    stored = container.app.recorder.select_notifications(start=1, limit=10_000)
    assert not any(b"bluebird" in n.state.lower() for n in stored)


async def test_help_raises_an_sos_and_a_repeated_webhook_is_handled_once(webhook: Any) -> None:
    client, container = webhook
    first = await (await text(client, "+447700900001", "help", "SM20")).text()
    again = await (await text(client, "+447700900001", "help", "SM20")).text()
    assert first == again and "999" in first
    [alert] = alerts(container)
    assert alert["kind"] == "sos" and alert["staff"] == "s-jones"


async def test_a_stranger_gets_no_reply_and_raises_nothing(webhook: Any) -> None:
    client, container = webhook
    reply = await (await text(client, "+447000000000", "HELP bluebird", "SM30")).text()
    assert "<Message>" not in reply
    assert alerts(container) == []


def _with_phones(staff_phone: dict[str, str], contact_phone: dict[str, str]) -> Directory:
    """The test directory with some staff's and contacts' mobiles changed."""
    directory = load_directory(DIRECTORY)
    staff = tuple(
        replace(person, phone=staff_phone.get(person.id, person.phone))
        for person in directory.staff
    )
    schools = tuple(
        replace(
            school,
            contacts=tuple(
                replace(c, phone=contact_phone.get(c.id, c.phone)) for c in school.contacts
            ),
        )
        for school in directory.schools
    )
    return replace(directory, staff=staff, schools=schools)


async def test_a_mobile_changed_in_the_file_no_longer_answers_as_its_old_owner(
    webhook: Any,
) -> None:
    """A number the file takes away from someone may be someone else's now: its texts are a
    stranger's, not the old owner's check-ins or alarms; the new number is theirs at once."""
    client, container = webhook
    before = load_directory(DIRECTORY)
    [jones] = [p for p in before.staff if p.id == "s-jones"]
    [contact] = [c for s in before.schools for c in s.contacts][:1]
    assert jones.phone is not None
    container.app.import_directory(
        _with_phones({"s-jones": "+447700900901"}, {contact.id: "+447700900902"})
    )
    stranger = await (await text(client, jones.phone, "help bluebird", "SM40")).text()
    assert "<Message>" not in stranger
    assert alerts(container) == []
    ack = await (await text(client, contact.phone, "ACK", "SM41")).text()
    assert "<Message>" not in ack
    moved = await (await text(client, "+447700900901", "help", "SM42")).text()
    assert "999" in moved
    [alert] = alerts(container)
    assert alert["staff"] == "s-jones"
    # Given back, the old number is theirs again; a re-import of the same file records nothing.
    container.app.import_directory(before)
    assert container.app.import_directory(before).updated == 0
    again = await (await text(client, jones.phone, "OK running late", "SM43")).text()
    assert "<Message>" in again
