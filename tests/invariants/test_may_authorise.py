"""The board's "may I authorise this visit?" agrees with what `Visit.authorise` does, for
any reader, any visit time and any school's policy hypothesis can draw.

What must always hold:
- `may_authorise` is true exactly when `authorise` would not refuse the reader for who
  they are (it then succeeds exactly when nothing is missing before authorisation), and
  when false the refusal is the words the answer gives (`why_not`);
- outside school hours only the headteacher may, and the answer says so in words;
- the board's answer, read from the board's document (times as ISO text, the school's
  entry as the views have it), is the aggregate's answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.application.visit_policy import may_authorise_on_board
from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.readiness import summary
from service.domain.visits.rules import needs_headteacher
from tests.invariants.test_visit_policy_machine import policies
from tests.unit.test_visit_rules import APPENDIX, a_visit

MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
ZONES = ["Europe/London", "UTC", "Asia/Kolkata", "America/New_York"]

readers = st.builds(
    Principal,
    st.just("reader1"),
    st.sampled_from(["lancaster", "kingsdown"]),  # the visit's school, or another
    st.sampled_from(list(Role)),
)
starts = st.integers(min_value=0, max_value=14 * 24 * 60 - 1).map(
    lambda m: MONDAY + timedelta(minutes=m)
)
lengths = st.integers(min_value=15, max_value=8 * 60).map(lambda m: timedelta(minutes=m))
hours = st.tuples(st.integers(6, 10), st.integers(14, 20)).map(
    lambda oc: f"{oc[0]:02d}:00-{oc[1]:02d}:00"
)


@settings(max_examples=400, deadline=None)
@given(
    reader=readers,
    rules=policies,
    start=starts,
    length=lengths,
    working_hours=hours,
    zone=st.sampled_from(ZONES),
)
def test_the_answer_is_what_authorise_accepts_or_refuses(
    reader: Principal,
    rules: VisitPolicy,
    start: datetime,
    length: timedelta,
    working_hours: str,
    zone: str,
) -> None:
    visit = a_visit(
        start=start,
        expected_leave=start + length - timedelta(minutes=5),
        expected_return=start + length,
    )
    visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=start - timedelta(hours=1))
    answer = visit.authorisation_for(
        reader, working_hours=working_hours, timezone=zone, rules=rules
    )
    missing = summary(rules, visit.before, staff=visit.staff, trained=())[
        "missing_before_authorisation"
    ]
    try:
        visit.authorise(
            principal=reader,
            working_hours=working_hours,
            timezone=zone,
            timestamp=start - timedelta(minutes=30),
            rules=rules,
        )
        refused: str | None = None
    except DomainError as error:
        refused = str(error)

    assert (refused is None) == (answer.may and not missing)
    if not answer.may:
        assert refused == answer.refusal
    elif refused is not None:
        assert missing and refused.startswith("the school's policy needs")

    out_of_hours = needs_headteacher(
        visit.planned_start, visit.expected_return, working_hours=working_hours, timezone=zone
    )
    if out_of_hours:
        assert answer.roles == (Role.HEADTEACHER,)
        assert answer.words == "the headteacher (outside school hours)"
        assert answer.may == (reader.role is Role.HEADTEACHER and reader.school == "lancaster")
    else:
        assert answer.roles == rules.authorised_by
        assert answer.may == (reader.role in rules.authorised_by and reader.school == "lancaster")

    doc: dict[str, Any] = {
        "school": "lancaster",
        "planned_start": visit.planned_start.isoformat(),
        "expected_return": visit.expected_return.isoformat(),
    }
    school = {
        "timezone": zone,
        "working_hours": working_hours,
        "policy": {"visits": {"authorised_by": [r.value for r in rules.authorised_by]}},
    }
    assert may_authorise_on_board(reader, doc, school) == answer.as_data()


def test_a_weekend_visit_tells_the_dsl_to_ask_the_headteacher() -> None:
    """The case the board got wrong: a Saturday visit, a DSL the policy names."""
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    visit = a_visit(start=saturday)
    dsl = Principal("dsl1", "lancaster", Role.DSL)
    answer = visit.authorisation_for(dsl, working_hours="08:00-18:00", timezone="Europe/London")
    assert answer.as_data() == {
        "may_authorise": False,
        "authorised_by": ["headteacher"],
        "authorised_by_words": "the headteacher (outside school hours)",
        "headteacher_because": "it is not within one working day",
        "why_not": "this visit needs the headteacher's express approval because "
        "it is not within one working day",
    }
