"""A whole school day of home visits in simulated time, on SQLite and on PostgreSQL.

Three visits: Sam Jones alone in the morning; Priya Patel and Rob Ross as a pair after
lunch, back late, so the ladder runs to its second step before Priya texts OK; and an
evening visit the DSL may not authorise until the headteacher approves it. Texts go the
way the signed SMS webhook sends them (`Lonewatch.receive_sms`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from service.application import visits
from service.domain.errors import DomainError
from tests.visit_worlds import HAZARDS, VisitWorld, at

JONES, PATEL = "+447700900001", "+447700900003"
RECEPTION, SLT = "+441702000001", "+441702000013"
IDLE = timedelta(minutes=30)


@pytest.fixture
def world(database_url: str) -> Iterator[VisitWorld]:
    w = VisitWorld(database_url)
    yield w
    w.close()


def test_a_day_of_three_visits_shows_exactly_what_happened_in_order(world: VisitWorld) -> None:
    w = world
    dsl, head = w.who("dsl1"), w.who("head1")

    # 08:00 The DSL plans the day.
    lone = w.plan("mon-lone", ["s-jones"], at(9, 30), by="dsl1").id
    pair = w.plan("mon-pair", ["p-patel", "r-ross"], at(13, 0), purpose="attendance", by="dsl1").id
    evening = w.plan("mon-evening", ["s-jones"], at(18, 0), purpose="transition", by="dsl1").id
    for visit_id in (lone, pair, evening):
        visits.assess_risk(w.app, visit_id, dsl, HAZARDS)
    visits.authorise(w.app, lone, dsl)
    visits.authorise(w.app, pair, dsl)
    with pytest.raises(DomainError, match="headteacher's express approval because it is an eve"):
        visits.authorise(w.app, evening, dsl)
    visits.authorise(w.app, evening, head)

    # Morning: the lone visit goes to plan, the fob heartbeating while Sam is out.
    w.run_until(at(9, 20), step=IDLE)
    w.heartbeat("sos-0001")
    w.heartbeating["sos-0001"] = 85
    w.depart(lone, by="s-jones")
    w.run_until(at(9, 32))
    w.text(JONES, "Arrived")
    w.run_until(at(10, 12))
    w.text(JONES, "LEFT")
    w.run_until(at(10, 25))
    w.text(JONES, "back")
    w.heartbeating.clear()
    visits.report(
        w.app,
        lone,
        w.who("s-jones"),
        outcome="completed",
        notes="Parent engaged; attendance plan agreed.",
        safeguarding_concern=False,
    )

    # Afternoon: the pair stay late and do not answer at first.
    w.run_until(at(12, 50), step=IDLE)
    w.depart(pair, by="p-patel")
    w.run_until(at(13, 4))
    w.text(PATEL, "ARRIVED")
    w.run_until(at(14, 21))  # leave 13:45 + 10m grace; return 14:00 + 10m grace; +10m step 2
    board = w.board(pair)
    assert board["overdue"] and board["overdue_step"] == {
        "step": 2,
        "action": "reception_calls_home",
    }
    assert [v["id"] for v in visits_out(w)] == [str(pair)]
    w.run_until(at(14, 23))
    w.text(PATEL, "OK - on our way, parent kept us")
    w.run_until(at(14, 31))
    w.text(PATEL, "BACK")

    # Evening: the headteacher-approved visit.
    w.run_until(at(17, 45), step=IDLE)
    w.heartbeat("sos-0001")
    w.heartbeating["sos-0001"] = 70
    w.depart(evening, by="s-jones")
    w.run_until(at(18, 2))
    w.text(JONES, "ARRIVED")
    w.run_until(at(18, 28))
    w.text(JONES, "LEFT")
    w.run_until(at(18, 40))
    w.text(JONES, "BACK")
    w.heartbeating.clear()
    w.run_until(at(20, 0), step=IDLE)

    # The pair's timeline: what happened, in order, and when the system noticed.
    # Each message's own words follow its request ('; it said: "..."'): the order is the point.
    said = re.compile(r'; it said: ".*"$', re.S)
    rows = [
        (r["recorded_at"].strftime("%H:%M"), said.sub("", r["summary"])) for r in w.timeline(pair)
    ]
    assert rows == [
        ("08:00", SUMMARY_PLANNED_PAIR),
        ("08:00", "risk assessed by dsl1 (DSL) (5 hazards)"),
        ("08:00", "authorised by dsl1 (DSL)"),
        ("12:50", "signed out by p-patel (staff)"),
        ("13:04", "arrived at the property by text"),
        ("13:55", "not left the property on time: visitor asked to reply OK"),
        ("13:55", PROMPT),
        ("14:10", "overdue: not back by 14:10 UTC (expected return plus grace); the ladder starts"),
        ("14:10", "overdue step 1: the visitor is texted and called"),
        ("14:10", "overdue alert raised"),
        ("14:10", CALL_VISITOR.format(channel="text")),
        ("14:10", CALL_VISITOR.format(channel="call")),
        ("14:20", "overdue step 2: reception rings the pupil's home"),
        ("14:20", CALL_RECEPTION),
        ("14:23", "overdue ladder ended by p-patel (staff) after 2 step(s): text OK"),
        ("14:23", "taken by p-patel (staff) via resolve"),
        (
            "14:23",
            "resolved by p-patel (staff): safe - overdue ladder ended by p-patel (staff): text OK",
        ),
        ("14:31", "signed back in by text"),
    ]

    # The board at the end of the day.
    boards = {doc["ref"]: doc for doc in w.views.find("visit")}
    assert {ref: doc["state"] for ref, doc in boards.items()} == {
        "mon-lone": "reported",
        "mon-pair": "returned",
        "mon-evening": "returned",
    }
    assert boards["mon-pair"]["ladder_ended"] == {
        "at": at(14, 23).isoformat(),
        "by": "staff:p-patel",
        "how": "text OK (sms:SM5)",
        "steps_taken": 2,
    }
    assert boards["mon-evening"]["headteacher_needed"] == "it is an evening visit"
    assert boards["mon-evening"]["authorised_by"] == "headteacher:head1"
    assert boards["mon-lone"]["last_heartbeat"] == at(10, 25).isoformat()
    [alert] = w.views.find("alert")
    assert (alert["kind"], alert["state"]) == ("overdue", "resolved")
    [task] = w.views.find("task")
    assert (task["for_role"], task["state"]) == ("reception", "no_longer_needed")
    assert w.notifications(to=SLT) == []  # the ladder never reached senior leaders
    assert len(w.notifications(to=RECEPTION)) == 1
    assert visits_out(w) == []
    assert [
        t for t in w.views.find("timer", states=["pending"]) if t["id"].startswith("visit-")
    ] == []


def visits_out(w: VisitWorld) -> list[dict[str, object]]:
    return w.views.find("visit", states=["departed", "arrived", "left"])


SUMMARY_PLANNED_PAIR = (
    "pair visit planned by dsl1 (DSL): p-patel, r-ross to pupil UPN-0042's home (attendance), "
    "leaving 13:45, back 14:00 UTC"
)
PROMPT = "text to Priya Patel (+447700900003) requested: visit: not left the property on time"
CALL_VISITOR = (
    "{channel} to Priya Patel (+447700900003) requested: overdue step: contact the visitor"
)
CALL_RECEPTION = (
    "text to Reception (+441702000001) requested: overdue step: reception calls the pupil's home"
)
