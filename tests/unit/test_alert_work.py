"""Working an open alert, no I/O: notes and handovers are recorded on the alert while it
is open; a handover is of an alert someone has taken, to someone who does not hold it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.alerts.alert import Alert, Outcome
from service.domain.alerts.working import MAX_NOTE, handover_text
from service.domain.errors import DomainError, InvalidTransition
from service.records.narrative import Narrator

T0 = datetime(2026, 12, 6, 21, 37, tzinfo=UTC)


def an_sos() -> Alert:
    return Alert(
        key="message:work-1",
        kind="sos",
        school="lancaster",
        device="sos-0001",
        staff="s-jones",
        cause={},
        timestamp=T0,
    )


def words(alert: Alert) -> list[str]:
    narrator = Narrator()
    found = []
    for event in alert.collect_events():
        worded = narrator.words(event)
        if worded is not None and not worded[2]:
            found.append(worded[1])
    return found


def test_a_note_is_recorded_with_who_and_when_and_read_in_the_record() -> None:
    alert = an_sos()
    alert.add_note("  rang the home, no answer ", by="operator:reception1", timestamp=T0)
    assert alert.notes == [
        {"by": "operator:reception1", "text": "rang the home, no answer", "at": T0}
    ]
    assert "note by reception1 (contact centre): rang the home, no answer" in words(alert)


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_NOTE + 1)])
def test_a_note_needs_some_words_and_is_not_a_document(text: str) -> None:
    with pytest.raises(DomainError):
        an_sos().add_note(text, by="operator:reception1", timestamp=T0)


def test_a_resolved_alert_takes_no_notes_and_is_not_handed_over() -> None:
    alert = an_sos()
    alert.resolve(Outcome.SAFE, "called back, fine", by="operator:reception1", timestamp=T0)
    with pytest.raises(InvalidTransition, match="closed alert"):
        alert.add_note("late thought", by="operator:reception1", timestamp=T0)
    with pytest.raises(InvalidTransition, match="closed alert"):
        alert.hand_over("dsl:dsl1", "", by="operator:reception1", timestamp=T0)


def test_an_alert_nobody_has_taken_is_taken_first_then_handed_over() -> None:
    """Taking it stops the escalation: nobody takes it on another's behalf."""
    alert = an_sos()
    with pytest.raises(InvalidTransition, match="acknowledge it first"):
        alert.hand_over("dsl:dsl1", "", by="operator:reception1", timestamp=T0)


def test_a_handover_moves_the_alert_to_the_colleague_and_says_so_in_the_record() -> None:
    alert = an_sos()
    alert.acknowledge(by="operator:reception1", via="console", timestamp=T0)
    assert alert.holder == "operator:reception1"
    later = T0 + timedelta(minutes=4)
    alert.hand_over("dsl:dsl1", "police on the way", by="operator:reception1", timestamp=later)
    assert alert.holder == "dsl:dsl1"
    assert alert.acknowledged_by == "operator:reception1", "who took it first stays recorded"
    assert (
        "reception1 (contact centre) handed the alert to dsl1 (DSL) - police on the way"
        in words(alert)
    )
    with pytest.raises(InvalidTransition, match="already with dsl:dsl1"):
        alert.hand_over("dsl:dsl1", "", by="operator:reception1", timestamp=later)


def test_a_supervisor_may_take_an_alert_over_themselves() -> None:
    alert = an_sos()
    alert.acknowledge(by="operator:reception1", via="console", timestamp=T0)
    alert.hand_over("headteacher:head1", "", by="headteacher:head1", timestamp=T0)
    assert alert.holder == "headteacher:head1"
    assert "head1 (headteacher) took the alert over" in words(alert)


@pytest.mark.parametrize(
    ("mobile", "said"),
    [
        (None, "; not texted: no mobile on record"),
        ("+447700900911", "; a text to their mobile requested"),
    ],
)
def test_a_handover_records_whether_the_colleague_is_texted(mobile: str | None, said: str) -> None:
    """The printed record says it from the handover itself, not from the console's guess."""
    alert = an_sos()
    alert.acknowledge(by="operator:reception1", via="console", timestamp=T0)
    texted = handover_text(to="dsl:dsl1", by="operator:reception1", mobile=mobile)
    alert.hand_over("dsl:dsl1", "police on the way", "operator:reception1", T0, texted)
    [handed] = [e for e in alert.collect_events() if type(e).__name__ == "HandedOver"]
    assert handed.texted == texted.value  # type: ignore[attr-defined]
    assert words_of(handed) == (
        f"reception1 (contact centre) handed the alert to dsl1 (DSL){said} - police on the way"
    )


def test_a_handover_stored_before_it_said_reads_as_it_always_did() -> None:
    alert = an_sos()
    alert.acknowledge(by="operator:reception1", via="console", timestamp=T0)
    alert.hand_over("dsl:dsl1", "police on the way", by="operator:reception1", timestamp=T0)
    events = alert.collect_events()
    del events[-1].__dict__["texted"]  # as stored before handovers said
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None and replayed.handed_to == "dsl:dsl1"
    assert words_of(events[-1]) == (
        "reception1 (contact centre) handed the alert to dsl1 (DSL) - police on the way"
    )


def test_who_a_handover_texts() -> None:
    """Their mobile, unless they took it over themself or have none on record."""
    assert handover_text(to="dsl:dsl1", by="dsl:dsl1", mobile="+447700900911") == "took_over"
    assert handover_text(to="dsl:dsl1", by="operator:reception1", mobile=None) == "no_mobile"
    assert handover_text(to="dsl:dsl1", by="operator:reception1", mobile="+447700900911") == (
        "requested"
    )


def words_of(event: object) -> str:
    worded = Narrator().words(event)
    assert worded is not None
    return worded[1]
