"""Who takes an alert, and how: a key press on the call, ACK by text; never a voicemail.

In simulated time over the store and views (tests/integration/test_escalation.py's Ladder).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from service.application import acknowledgement, outbox
from service.domain import ids
from service.records.kpis import alarm_figures
from tests.integration.test_escalation import Ladder

CC1, CC2, DSL = "+441702000010", "+441702000014", "+441702000011"
SAM = "+447700900001"


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    """SQLite only: these are rules, not storage (the restart test runs on both stores)."""
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


def call_to(ladder: Ladder, number: str, step: str = "tier1") -> UUID:
    [found] = [
        n
        for n in ladder.notifications()
        if (n["to"], n["channel"], n["step"]) == (number, "voice", step)
    ]
    return UUID(found["id"])


def text(ladder: Ladder, sender: str, body: str, sid: str) -> str | None:
    reply = ladder.app.receive_sms(sender=sender, body=body, message_sid=sid)
    ladder.settle()
    return reply


def test_only_pressing_1_takes_the_alert(ladder: Ladder) -> None:
    """Voice alerts ask the callee to press 1 to acknowledge (an answered call without the key
    press is not an acknowledgement)."""
    alert_id = ladder.sos()
    call = call_to(ladder, CC2)
    assert acknowledgement.acknowledge_by_key(ladder.app, call, "7").startswith("That was not 1")
    assert ladder.app.alert(alert_id).acknowledged_by is None

    said = acknowledgement.acknowledge_by_key(ladder.app, call, "1")
    ladder.settle()

    assert said.startswith("you have taken alert")
    alert = ladder.alert(alert_id)
    assert (alert["acknowledged_by"], alert["acknowledged_via"]) == ("Reception desk", "voice")
    taken = [n for n in ladder.notifications() if n["step"] == "taken"]
    assert [n["to"] for n in taken] == [CC1]
    assert "taken by Reception desk" in taken[0]["body"]


def test_a_voicemail_or_an_answer_without_the_key_press_takes_nothing(ladder: Ladder) -> None:
    alert_id = ladder.sos()
    for number, status, answered_by in (
        (CC1, "machine", "machine_end_beep"),
        (CC2, "answered", "human"),
    ):
        outbox.report_status(
            ladder.app,
            call_to(ladder, number),
            status=status,
            provider_id="CA1",
            answered_by=answered_by,
        )
    ladder.after(60)

    alert = ladder.alert(alert_id)
    assert alert["acknowledged_by"] is None and alert["state"] != "acknowledged"
    deliveries = {
        n["to"]: n["delivery"]
        for n in alert["notifications"].values()
        if n["channel"] == "voice" and n["step"] == "tier1"
    }
    assert deliveries == {CC1: "machine", CC2: "answered"}
    assert any(n["step"] == "tier2" for n in ladder.notifications())  # the ladder went on


def test_a_contact_takes_the_latest_alert_they_were_told_of_by_texting_ack(ladder: Ladder) -> None:
    """Contact texts: ACK (optionally with the alert's short code) acknowledges the alert they
    were told of."""
    ladder.fobs("sos-0101")
    first = ladder.sos("m-1")
    ladder.clock.advance(timedelta(seconds=5))
    second = ladder.sos("m-2", device="sos-0101")

    reply = text(ladder, CC1, "ack", "SM-A")

    assert reply is not None and f"taken alert {ids.short_code(second)}" in reply
    assert ladder.alert(second)["acknowledged_by"] == "Contact centre desk"
    assert ladder.alert(first)["acknowledged_by"] is None

    reply = text(ladder, CC2, f"ACK {ids.short_code(second)}", "SM-B")
    assert (
        reply
        == f"Lonewatch: alert {ids.short_code(second)} was already taken by Contact centre desk."
    )
    reply = text(ladder, CC1, "ACK", "SM-D")  # the latest not yet taken
    assert reply is not None and f"taken alert {ids.short_code(first)}" in reply
    assert ladder.alert(first)["acknowledged_by"] == "Contact centre desk"


def test_ack_with_a_code_takes_that_alert(ladder: Ladder) -> None:
    first = ladder.sos("m-1")
    ladder.sos("m-2")
    reply = text(ladder, CC2, f"Ack {ids.short_code(first).lower()}", "SM-C")
    assert reply is not None and f"taken alert {ids.short_code(first)}" in reply
    assert ladder.alert(first)["acknowledged_by"] == "Reception desk"


def test_ack_with_an_unknown_code_or_nothing_to_take_says_so(ladder: Ladder) -> None:
    assert text(ladder, DSL, "ACK", "SM-1") == (
        "Lonewatch: no open alert you were told of. Reply ACK and the alert's code."
    )
    ladder.sos()
    reply = text(ladder, CC1, "ACK ABCDEF", "SM-2")
    assert reply is not None and "no open alert ABCDEF" in reply


def test_duress_is_silent_to_the_visitor_and_tells_contacts_not_to_call(ladder: Ladder) -> None:
    """A staff member's safe word anywhere in a text raises a silent duress alert: the reply
    must not differ from an ordinary one; contacts are told not to call the visitor."""
    ordinary = text(ladder, SAM, "OK", "SM-10")
    duress = text(ladder, SAM, "ok bluebird", "SM-11")
    ladder.after(60)
    ladder.after(60)

    assert duress == ordinary
    notes = ladder.notifications()
    assert {n["step"] for n in notes} >= {"tier1", "renotify1", "tier2", "renotify2", "tier3"}
    assert {n["channel"] for n in notes} == {"sms", "voice"}
    assert all("do not call the visitor" in n["body"] for n in notes)
    assert SAM not in {n["to"] for n in notes}  # nothing goes to the visitor's phone
    [alert] = [a for a in ladder.world.views.find("alert") if a["kind"] == "duress"]
    assert alert["silent"] is True


def test_the_figures_come_from_the_recorded_events(ladder: Ladder) -> None:
    """Press to acknowledgement, and the BS 8484 bands, from what was recorded."""
    ladder.fobs("sos-0101", "sos-0102")
    quick = ladder.sos("m-1")
    slow = ladder.sos("m-2", device="sos-0101")
    unanswered = ladder.sos("m-3", device="sos-0102")
    ladder.after(7)
    acknowledgement.acknowledge_by_key(ladder.app, call_to_alert(ladder, quick), "1")
    ladder.after(18)
    text(ladder, CC2, f"ACK {ids.short_code(slow)}", "SM-K")
    outbox.report_status(
        ladder.app,
        call_to_alert(ladder, unanswered),
        status="machine",
        provider_id="CA",
        answered_by="machine_end_beep",
    )
    ladder.settle()

    figures = alarm_figures(ladder.world.views.find("alert"), "2026-11")["schools"]["lancaster"]

    assert figures["alarms"] == 3 and figures["unacknowledged"] == 1
    assert figures["press_to_acknowledgement_s"]["median"] == 7.0
    assert figures["press_to_first_notification_s"]["p98_5"] == 0.0
    assert figures["acknowledged_within_10s"] == round(1 / 3, 4)
    assert figures["acknowledged_within_40s"] == round(2 / 3, 4)


def call_to_alert(ladder: Ladder, alert_id: UUID) -> UUID:
    [found] = [
        n
        for n in ladder.notifications()
        if n["alert_id"] == str(alert_id)
        and (n["to"], n["channel"], n["step"]) == (CC1, "voice", "tier1")
    ]
    return UUID(found["id"])
