"""Deadlines and the overdue ladder in simulated time: the real application, views and
scheduler over a real store, a fake clock, hours in milliseconds."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from service.application import visits
from service.application.visitor_texts import UNKNOWN_REPLY
from service.domain.people.texts import STAFF_REPLY
from tests.visit_worlds import VisitWorld, at

JONES = "+447700900001"
PATEL = "+447700900003"


@pytest.fixture
def world(sqlite_url: str) -> Iterator[VisitWorld]:
    w = VisitWorld(sqlite_url)
    yield w
    w.close()


def a_lone_visit_under_way(w: VisitWorld, ref: str = "lone-1") -> UUID:
    """Sam Jones, alone, 09:30 to 10:30 (leaving by 10:15), fob sos-0001 heartbeating."""
    w.clock.set(at(9, 20))
    visit_id = w.authorised(ref, ["s-jones"], at(9, 30))
    w.heartbeat("sos-0001")
    w.heartbeating["sos-0001"] = 80
    w.depart(visit_id)
    w.text(JONES, "ARRIVED")
    return visit_id


def actions(w: VisitWorld, visit_id: UUID) -> list[str]:
    return [row["summary"] for row in w.timeline(visit_id)]


def test_not_left_on_time_asks_the_visitor_to_reply_ok(world: VisitWorld) -> None:
    """'Let the school know immediately that they have left the property': not left by the
    expected time plus grace, the visitor is texted and asked to reply OK."""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 24))
    assert world.notifications(to=JONES) == []
    world.run_until(at(10, 25))
    [prompt] = world.notifications(to=JONES)
    assert "Reply OK" in prompt["body"] and prompt["channel"] == "sms"
    assert prompt["requested_at"] == at(10, 25).isoformat()
    assert world.text(JONES, "ok") == STAFF_REPLY
    board = world.board(visit_id)
    assert board["last_checkin"]["via"].startswith("text OK")
    assert not board["overdue"]


def test_the_ladder_runs_the_schools_steps_in_order(world: VisitWorld) -> None:
    """'the member of staff will be contacted on the mobile phone. If contact is not possible,
    Reception staff will attempt to contact the Pupil's home. If contact has not been made ...
    a member of SLT will be informed'."""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 39))
    assert not world.board(visit_id)["overdue"]
    world.run_until(at(10, 40))  # expected return 10:30 + grace 10m
    board = world.board(visit_id)
    assert board["overdue"] and board["overdue_step"] == {"step": 1, "action": "contact_staff"}
    [alert] = world.views.find("alert")
    assert (alert["kind"], alert["severity"], alert["cause"]["visit"]) == (
        "overdue",
        "red",
        str(visit_id),
    )
    to_visitor = world.notifications(alert_id=alert["id"], to=JONES)
    assert sorted(n["channel"] for n in to_visitor) == ["sms", "voice"]
    world.run_until(at(10, 50))
    assert world.board(visit_id)["overdue_step"]["action"] == "reception_calls_home"
    [task] = world.views.find("task")
    assert (task["for_role"], task["state"]) == ("reception", "open")
    assert "UPN-0042" in task["what"]
    assert [n["to"] for n in world.notifications(to="+441702000001")] == ["+441702000001"]
    world.run_until(at(11, 0))
    [slt] = world.notifications(to="+441702000013")
    assert slt["contact"] == "slt-1"
    steps = [s for s in actions(world, visit_id) if s.startswith("overdue step")]
    assert steps == [
        "overdue step 1: the visitor is texted and called",
        "overdue step 2: reception rings the pupil's home",
        "overdue step 3: senior leaders are told if need be - SLT informed: reception had not reported reaching "
        "the pupil's home by then",
    ]


def test_ok_at_step_two_ends_the_ladder_records_who_and_how_and_stops_it(
    world: VisitWorld,
) -> None:
    """'A reply OK ... at any step ends the ladder and records who ended it and how.'"""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 52))
    world.text(JONES, "OK sorry, parent kept talking")
    board = world.board(visit_id)
    assert not board["overdue"]
    assert board["ladder_ended"]["by"] == "staff:s-jones"
    assert board["ladder_ended"]["how"].startswith("text OK")
    assert board["ladder_ended"]["steps_taken"] == 2
    [alert] = world.views.find("alert")
    assert alert["state"] == "resolved" and "ended by staff:s-jones" in alert["note"]
    [task] = world.views.find("task")
    assert task["state"] == "no_longer_needed"
    ladder = world.views.get("timer", f"visit-ladder:{visit_id}")
    assert ladder is not None and ladder["state"] == "cancelled"
    world.run_until(at(11, 1))
    assert world.notifications(to="+441702000013") == []  # SLT never troubled


def test_back_or_a_return_ends_the_ladder_and_signs_the_visitor_in(world: VisitWorld) -> None:
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 41))
    world.text(JONES, "back")
    board = world.board(visit_id)
    assert (board["state"], board["overdue"]) == ("returned", False)
    assert "returned" in board["ladder_ended"]["how"]
    assert visits.current_visit(world.app, "s-jones") is None
    fired_after = world.run_until(at(12, 0))
    assert fired_after == []  # every timer of the visit is settled


def test_the_safe_word_during_the_ladder_raises_duress_and_does_not_end_it(
    world: VisitWorld,
) -> None:
    """'A staff member's safe word anywhere in a text raises a silent duress alert'."""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 41))
    assert world.text(JONES, "OK bluebird") == STAFF_REPLY
    kinds = sorted(a["kind"] for a in world.views.find("alert"))
    assert kinds == ["duress", "overdue"]
    assert world.board(visit_id)["overdue"]


def test_a_visits_own_safe_word_raises_duress_too_and_is_never_stored_in_clear(
    world: VisitWorld,
) -> None:
    """'Safe word: To be agreed and recorded on the Community Lone Working Risk Assessment.'"""
    world.clock.set(at(9, 0))
    visit = world.plan("own-word", ["p-patel", "r-ross"], at(9, 30), safe_word="Lighthouse")
    visits.assess_risk(world.app, visit.id, world.who("dsl1"), HAZARDS_ALL)
    visits.authorise(world.app, visit.id, world.who("dsl1"))
    world.depart(visit.id, by="p-patel")
    # The reply any text that is not a command gets: nothing on the phone shows duress.
    assert world.text(PATEL, "all fine, lighthouse") == UNKNOWN_REPLY
    assert [a["kind"] for a in world.views.find("alert")] == ["duress"]
    stored = world.app.recorder.select_notifications(start=1, limit=10_000)
    assert not any(b"lighthouse" in n.state.lower() for n in stored)


def test_a_silent_device_during_a_lone_visit_raises_an_amber_alert(world: VisitWorld) -> None:
    """'Ensure access to phone and SOS device': no heartbeat for offline_after is noticed."""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(9, 40))
    world.heartbeating.clear()  # the fob goes quiet at 09:40
    world.run_until(at(9, 42))
    assert world.views.find("alert") == []
    world.run_until(at(9, 43))
    [alert] = world.views.find("alert")
    assert (alert["kind"], alert["severity"], alert["device"]) == (
        "device_offline",
        "amber",
        "sos-0001",
    )
    assert world.board(visit_id)["device_silent_since"] == at(9, 40).isoformat()
    world.heartbeating["sos-0001"] = 80
    world.run_until(at(9, 50))
    board = world.board(visit_id)
    assert "device_silent_since" not in board and board["last_heartbeat"] == at(9, 50).isoformat()
    assert len(world.views.find("alert")) == 1


def test_a_device_checkin_counts_as_the_visitors_ok(world: VisitWorld) -> None:
    """Device `checkin` messages are handled from the recorded DeviceMessage event."""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 41))
    world.heartbeat("sos-0001", kind="checkin")
    world.settle()
    ended = world.board(visit_id)["ladder_ended"]
    assert ended["by"] == "device:sos-0001" and ended["how"].startswith("device checkin")
    # The record says it in words a DSL reads; the message's id stays in the row's data.
    rows = [r for r in world.timeline(visit_id) if r["event"].startswith("Visit.")]
    row = next(r for r in rows if r["event"] == "Visit.LadderEnded")
    assert row["summary"] == (
        "overdue ladder ended by device sos-0001 after 1 step(s): a check-in from the device"
    )
    assert row["data"]["how"] == ended["how"] and row["source"] == "device:sos-0001"
    arrived = next(r for r in rows if r["event"] == "Visit.Arrived")
    assert arrived["summary"] == "arrived at the property by text"
    assert arrived["data"]["via"].startswith("text ARRIVED (sms:")


def test_deadlines_survive_a_restart(sqlite_url: str) -> None:
    first = VisitWorld(sqlite_url)
    visit_id = a_lone_visit_under_way(first)
    first.run_until(at(10, 41))
    first.close()
    again = VisitWorld(sqlite_url)  # a new process: nothing kept in memory
    again.clock.set(at(10, 41))
    again.heartbeating["sos-0001"] = 80
    again.run_until(at(10, 51))
    assert again.board(visit_id)["overdue_step"]["action"] == "reception_calls_home"
    again.close()


def test_texts_that_do_not_fit_get_the_same_reply_and_change_nothing(world: VisitWorld) -> None:
    assert world.text(JONES, "ARRIVED") == STAFF_REPLY  # not signed out on any visit
    visit_id = a_lone_visit_under_way(world)
    assert world.text(JONES, "ARRIVED") == STAFF_REPLY  # already arrived
    assert world.board(visit_id)["state"] == "arrived"


def test_a_safeguarding_concern_in_the_report_raises_a_task_for_the_dsl(
    world: VisitWorld,
) -> None:
    """'Any safeguarding concerns identified during the visit will be shared with the DSL
    immediately'."""
    visit_id = a_lone_visit_under_way(world)
    world.text(JONES, "LEFT")
    world.text(JONES, "BACK")
    visits.report(
        world.app,
        visit_id,
        world.who("s-jones"),
        outcome="completed",
        notes="Child alone at home for part of the visit.",
        safeguarding_concern=True,
    )
    world.projector.catch_up()
    [task] = world.views.find("task")
    assert (task["for_role"], task["state"], task["visit"]) == ("dsl", "open", str(visit_id))


HAZARDS_ALL = [
    {
        "hazard": h,
        "likelihood": "remote",
        "severity": "major",
        "risk": "low",
        "controls": ["Two person visit"],
    }
    for h in ("aggressive_person", "animals", "driving", "public_areas", "illness_or_injury")
]


def test_extending_moves_the_deadline(world: VisitWorld) -> None:
    """'Call in if plan changes.'"""
    visit_id = a_lone_visit_under_way(world)
    world.run_until(at(10, 20))
    visits.extend(
        world.app,
        visit_id,
        world.who("s-jones"),
        reason="parent arrived late",
        expected_leave=at(11, 0),
        expected_return=at(11, 15),
    )
    world.run_until(at(11, 24))
    assert world.views.find("alert") == []
    world.run_until(at(11, 25))
    assert [a["kind"] for a in world.views.find("alert")] == ["overdue"]
