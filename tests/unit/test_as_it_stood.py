"""The replay's "as it stood" panel in words: sentences in the school's local time with the
zone, people named, the escalation in one sentence and who was told grouped by person; no
field dump (no ids, "lone true", ISO stamps or "offline after 180")."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from service.records.as_it_stood import as_it_stood

LONDON = ZoneInfo("Europe/London")
RAISED = "2026-07-01T08:00:05+00:00"
ALERT = {
    "id": "1c937d9e-9805-5d2f-8472-cd81cbda59f6",
    "kind": "sos",
    "state": "acknowledged",
    "staff": "s-jones",
    "staff_name": "Sam Jones",
    "device": "sos-0001",
    "raised_at": RAISED,
    "cause": {
        "visit": "88dd2e5f-f21d-5807-90a6-79a0f756f255",
        "visit_address": "12 Acacia Road",
        "location": {"lat": 51.5406, "lon": 0.7123, "acc": 15.0},
    },
    "acknowledged_by": "A. Lead",
    "acknowledged_via": "voice",
    "acknowledged_at": "2026-07-01T08:00:52+00:00",
    "notifications": {
        "n1": {"contact_name": "Desk", "to": "+441702000010", "channel": "sms", "step": "tier1",
               "state": "sent", "delivery": "delivered", "status_at": RAISED},
        "n2": {"contact_name": "Desk", "to": "+441702000010", "channel": "voice", "step": "tier1",
               "state": "sent", "delivery": "no_answer", "status_at": RAISED},
        "n3": {"contact_name": "A. Lead", "to": "+441702000011", "channel": "voice",
               "step": "tier2", "state": "sent", "delivery": "answered",
               "status_at": "2026-07-01T08:00:50+00:00"},
    },
}  # fmt: skip
VISIT = {
    "id": "e748f80c-567e-5867-9a57-9ac41746530e",
    "staff": ["r-ross"],
    "staff_names": ["Rob Ross"],
    "lone": True,
    "pupil_ref": "UPN-0230",
    "address": "31 Marine Parade",
    "purpose": "safe_and_well",
    "planned_start": "2026-07-01T13:00:00+00:00",
    "expected_leave": "2026-07-01T13:45:00+00:00",
    "expected_return": "2026-07-01T14:00:00+00:00",
    "planned_by": "dsl:dsl1",
    "state": "arrived",
    "arrived_at": "2026-07-01T13:04:00+00:00",
    "risk_assessed": True,
    "highest_risk": "low",
    "authorised_by": "headteacher:head1",
    "device": "sos-0004",
    "last_heartbeat": "2026-07-01T14:09:00+00:00",
    "battery": 80,
    "offline_after": 180,
    "overdue": True,
    "overdue_since": "2026-07-01T14:10:00+00:00",
    "overdue_step": {"step": 2, "action": "reception_calls_home"},
    "ladder_ended": {
        "at": "2026-07-01T14:23:00+00:00",
        "by": "staff:r-ross",
        "how": "text OK (sms:SM5)",
        "steps_taken": 2,
    },
}
RAW = re.compile(r"\d{4}-\d\d-\d\dT|\blone true\b|offline after 180|[0-9a-f]{8}-[0-9a-f]{4}-")


def text(words: dict[str, object]) -> str:
    return "\n".join(
        [str(words["headline"]), str(words["escalation"] or ""), *words["lines"], *words["told"]]  # type: ignore[misc]
    )


def test_an_alert_in_words_with_the_escalation_summed_up() -> None:
    words = as_it_stood({"alert": ALERT}, LONDON)
    assert words["headline"] == "SOS — Sam Jones: taken, not yet resolved"
    assert words["escalation"] == (
        "Texted 1 person and called 2; taken by A. Lead by key press on the call after 47 s."
    )
    assert words["lines"][0] == (
        "Raised on Wed 01 Jul 2026 at 09:00:05 BST from device sos-0001, "
        "on a home visit at 12 Acacia Road."
    )
    assert "Taken by A. Lead by key press on the call at 09:00:52 BST." in words["lines"]
    assert words["told"] == [
        "Desk (+441702000010): text delivered 09:00:05 BST; call not answered 09:00:05 BST",
        "A. Lead (+441702000011): call answered 09:00:50 BST",
    ]
    assert not RAW.search(text(words))


def test_a_visit_in_words_names_the_visitor_and_says_the_ladder() -> None:
    words = as_it_stood({"visit": VISIT}, LONDON)
    said = text(words)
    assert words["headline"] == "Rob Ross — 31 Marine Parade"
    assert (
        "A lone visit by Rob Ross to 31 Marine Parade (pupil UPN-0230; purpose: safe and well)"
        in said
    )
    assert "start 14:00:00 BST, leave the property by 14:45:00 BST, back by 15:00:00 BST" in said
    assert "At the property since 14:04:00 BST." in said
    assert "treated as silent after 3 min without a message" in said
    assert "the overdue ladder is at step 2 (reception rings the pupil's home)" in said
    assert "ended by Rob Ross at 15:23:00 BST after 2 step(s): text OK." in said
    assert not RAW.search(said)


def test_nothing_yet() -> None:
    assert as_it_stood(None, LONDON)["headline"] == "Nothing had been recorded yet."
    assert as_it_stood({"alerts": []}, LONDON)["headline"] == "No alerts about this person by then."


def test_the_records_rows_name_visitors_as_the_directory_does() -> None:
    from service.records.timeline import staff_named

    names = {"r-ross": "Rob Ross"}.get
    assert (
        staff_named("ended by r-ross (staff) after 2 steps", names)
        == "ended by Rob Ross after 2 steps"
    )
    assert (
        staff_named("planned: r-ross to pupil X", names, ["r-ross"])
        == "planned: Rob Ross to pupil X"
    )
    assert staff_named("x-r-ross (staff) and k-smith (staff)", names) == (
        "x-r-ross (staff) and k-smith (staff)"
    ), "only whole ids the directory knows"
