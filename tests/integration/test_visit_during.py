"""During and after a visit, as the visitor's phone sees it: texts that record a concern, more
time, leaving and where next, a visit ended early; incidents that tell the headteacher;
follow-ups on the DSL's board until done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import UUID

import pytest

from service.application import visit_during
from service.application.followups import complete_followup, log_followup
from service.application.visitor_texts import UNKNOWN_REPLY
from service.domain.visits.followups import followup_id
from service.domain.visits.incidents import IncidentKind
from tests.visit_worlds import VisitWorld, at

JONES = "+447700900001"
DSL_PHONE, HEAD_PHONE = "+441702000011", "+441702000012"


@pytest.fixture
def world(database_url: str) -> Iterator[VisitWorld]:
    w = VisitWorld(database_url)
    yield w
    w.close()


def out_at_the_property(world: VisitWorld) -> str:
    world.clock.set(at(9, 0))
    visit = world.authorised("during-1", ["s-jones"], at(9, 30))
    world.heartbeat("sos-0001")
    world.clock.set(at(9, 25))
    world.heartbeat("sos-0001")
    world.depart(visit)
    world.text(JONES, "ARRIVED")
    return str(visit)


def test_a_concern_by_text_is_told_to_the_dsl_at_once(world: VisitWorld) -> None:
    """'Any safeguarding concerns observed during the visit must be reported immediately to
    the DSL.' (King's Academy Gomer)"""
    visit = out_at_the_property(world)
    reply = world.text(JONES, "concern: child home alone, no adult")
    assert reply is not None and reply.startswith("Lonewatch: concern 1 recorded")
    told = world.notifications(to=DSL_PHONE)
    assert len(told) == 1 and "safeguarding concern" in told[0]["body"]
    assert "home alone" not in told[0]["body"]  # the words stay on the console
    alerts = [a for a in world.views.find("alert", limit=100) if a["kind"] == "concern"]
    assert len(alerts) == 1 and alerts[0]["cause"]["visit"] == visit
    assert world.board(UUID(visit))["concerns"][0]["number"] == 1


def test_extend_left_next_and_ended_are_recorded_and_answered(world: VisitWorld) -> None:
    """'Telephone school office to say you have left the property and where you are going
    next.' (Roselyn House)"""
    visit = UUID(out_at_the_property(world))
    reply = world.text(JONES, "Extend 20")
    assert reply == "Lonewatch: recorded: 20 min more; expected back by 10:50."
    assert world.board(visit)["expected_return"].startswith("2026-11-23T10:50")
    assert world.text(JONES, "extend 500") is not None
    assert "not recorded" in str(world.text(JONES, "extend 500"))
    reply = world.text(JONES, "ENDED no responsible adult")
    assert reply is not None and "visit ended early, with your reason" in reply
    board = world.board(visit)
    assert board["state"] == "left"
    assert board["ended_early"]["reason"] == "no_responsible_adult"
    reply = world.text(JONES, "LEFT next: Tesco car park")
    assert reply is not None and "Where you go next is recorded." in reply
    assert world.board(visit)["next_place"]["place"] == "Tesco car park"
    summaries = [e["summary"] for e in world.timeline(visit)]
    assert any("visit ended early by s-jones" in s for s in summaries)
    assert any("going next to: Tesco car park" in s for s in summaries)


def test_unknown_words_get_the_list_of_texts(world: VisitWorld) -> None:
    out_at_the_property(world)
    assert world.text(JONES, "what do I send?") == UNKNOWN_REPLY


@pytest.mark.parametrize(
    "text",
    [
        "ENDED {} all fine",
        "CONCERN {} nothing",
        "EXTEND 20 {}",
        "LEFT next: {} shop",
        "OK {}",
        "hi {}",
    ],
)
def test_the_safe_word_in_a_command_changes_nothing_and_replies_the_same(
    world: VisitWorld, text: str
) -> None:
    """'The same code word should be used if you contact school to alert them that you are in
    danger' (Roselyn House): the reply is the one the same text gets without it."""
    visit = UUID(out_at_the_property(world))
    before = world.board(visit)
    under_duress = world.text(JONES, text.format("bluebird"))
    board = world.board(visit)
    for field in ("state", "expected_return", "concerns", "ended_early", "next_place"):
        assert board.get(field) == before.get(field), field
    assert [a["kind"] for a in world.views.find("alert", limit=100)] == ["duress"]
    assert world.text(JONES, text.format("")) == under_duress


def test_an_incident_tells_the_headteacher_and_logs_the_injury_protocol(
    world: VisitWorld,
) -> None:
    """'inform the headteacher ... of the incident' and 'Complete injury at work protocol on
    return.' (SEN Trust)"""
    visit = UUID(out_at_the_property(world))
    visit_during.record_incident(
        world.app,
        visit,
        kind=IncidentKind.INJURY,
        what="bitten by the dog in the hall",
        by="s-jones",
        via="api",
    )
    told = world.notifications(to=HEAD_PHONE)
    assert len(told) == 1 and "incident on a home visit (injury)" in told[0]["body"]
    assert "dog" not in told[0]["body"]
    followup = world.views.get("followup", followup_id(visit, 1))
    assert followup is not None and "Complete injury at work protocol" in followup["notes"]
    assert followup["assignee"] == "s-jones" and followup["state"] == "open"


def test_a_followup_stays_on_the_board_until_done(world: VisitWorld) -> None:
    """'If follow-up actions are required, these should be logged and monitored on CPOMS.'"""
    visit = UUID(out_at_the_property(world))
    dsl = world.who("dsl1")
    key = log_followup(
        world.app,
        visit,
        dsl,
        action="Ring mum about attendance",
        assignee="dsl1",
        due=date(2026, 11, 25),
    )
    world.projector.catch_up()
    open_ = world.views.find("followup", schools=["lancaster"], states=["open"])
    assert [f["id"] for f in open_] == [key]
    assert complete_followup(world.app, key, dsl, note="spoke to mum") is True
    assert complete_followup(world.app, key, dsl, note="again") is False
    world.projector.catch_up()
    assert world.views.find("followup", schools=["lancaster"], states=["open"]) == []
    assert world.board(visit)["followups_open"] == 0


def test_a_phone_app_message_is_read_as_the_same_text(world: VisitWorld) -> None:
    visit = UUID(out_at_the_property(world))
    world.devices.text("sos-0001", "EXTEND 15", "app-1")
    world.projector.catch_up()
    world.settle()
    assert world.board(visit)["expected_return"].startswith("2026-11-23T10:45")
