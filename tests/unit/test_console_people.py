"""The console names people by the audit trail's rule (service/records/narrative.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.domain.people.naming import person
from service.entrypoints.http.people import people_in, visit_with_people, with_people


def test_an_alert_names_everyone_who_worked_it() -> None:
    alert = {
        "acknowledged_by": "operator:reception1",
        "resolved_by": "dsl:dsl1",
        "handed_to": "headteacher:head1",
        "work": [{"kind": "note", "by": "admin:admin1", "text": "dsl:dsl1 rang"}],
        "school": "lancaster",
        "kind": "sos",
    }
    assert with_people(alert)["people"] == {
        "operator:reception1": "reception1 (contact centre)",
        "dsl:dsl1": "dsl1 (DSL)",
        "headteacher:head1": "head1 (headteacher)",
        "admin:admin1": "admin1 (administrator)",
    }
    assert "people" not in alert  # a copy: the view's document is left as it is


def test_a_contact_who_took_it_by_text_and_other_values_are_not_people() -> None:
    assert people_in({"acknowledged_by": "A. Lead", "step": "policy:tier2", "at": "10:17"}) == {}


def test_the_before_visit_checks_name_the_person_who_decided() -> None:
    visit = {
        "policy": {
            "checks": [
                {"rule": "pairs", "done": "single member of staff decided by dsl:dsl1 at 14:10"},
                {"rule": "charged_phone", "done": None},
            ]
        }
    }
    shown = visit_with_people(visit)
    assert shown["policy"]["checks"][0]["done"] == (
        "single member of staff decided by dsl1 (DSL) at 14:10"
    )
    assert shown["policy"]["checks"][1]["done"] is None
    assert visit["policy"]["checks"][0]["done"].endswith("dsl:dsl1 at 14:10")  # not changed


@given(
    role=st.sampled_from(["operator", "dsl", "headteacher", "admin", "staff", "slt"]),
    name=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
    where=st.lists(st.sampled_from(["by", "to", "handed_to", "x"]), min_size=1, max_size=4),
)
def test_every_actor_however_deep_is_worded_by_the_one_rule(
    role: str, name: str, where: list[str]
) -> None:
    actor = f"{role}:{name}"
    doc: object = actor
    for key in where:
        doc = [{key: doc}]
    assert people_in(doc) == {actor: person(actor)}


def test_a_visitor_is_named_as_the_visit_names_them() -> None:
    """'ended by staff:r-ross: returned (text BACK (sms:SM1))' reads 'ended by Rob Ross:
    returned (text BACK)' on the feed; the before-visit checks wait for 'Priya Patel'."""
    alert = {
        "staff": "r-ross",
        "staff_name": "Rob Ross",
        "resolved_by": "staff:r-ross",
        "note": "overdue ladder ended by staff:r-ross: returned (text BACK (sms:SMdemo1))",
    }
    shown = with_people(alert)
    assert shown["people"] == {"staff:r-ross": "Rob Ross"}
    assert shown["note_words"] == "overdue ladder ended by Rob Ross: returned (text BACK)"
    visit = {
        "staff": ["p-patel"],
        "staff_names": ["Priya Patel"],
        "policy": {
            "checks": [
                {"rule": "risk_assessment_signed", "needed": "each confirms (waiting for p-patel)"}
            ],
            "missing_before_authorisation": ["each confirms (waiting for p-patel)"],
        },
    }
    board = visit_with_people(visit)["policy"]
    assert board["checks"][0]["needed"] == "each confirms (waiting for Priya Patel)"
    assert board["missing_before_authorisation"] == ["each confirms (waiting for Priya Patel)"]


def test_the_stream_words_a_change_once_for_every_subscriber() -> None:
    from projections.projector import Change
    from service.entrypoints.http.api import _worded

    change = Change("alert", {"id": "a1", "acknowledged_by": "dsl:dsl1"}, "Alert.Acknowledged", 7)
    first = _worded(change)
    assert first["people"] == {"dsl:dsl1": "dsl1 (DSL)"} and first["position"] == 7
    assert _worded(change) is first
    again = Change("alert", {"id": "a1", "acknowledged_by": "dsl:dsl1"}, "Alert.Acknowledged", 8)
    assert _worded(again) is not first and _worded(again)["position"] == 8
