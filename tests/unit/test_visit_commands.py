"""What a visitor can text during a visit, read forgivingly; and the rules at the property,
each named for the policy words it enforces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import DomainError
from service.domain.visits.commands import (
    MAX_EXTEND_MINUTES,
    VisitorText,
    Word,
    as_text,
    extended_times,
    extension_problem,
    parse_visitor_text,
)
from service.domain.visits.decisions import (
    Control,
    DuringPolicy,
    EndReason,
    Rule,
    decision_problem,
    end_reason,
)
from service.domain.visits.followups import followup_problem, is_overdue
from service.domain.visits.incidents import INJURY_PROTOCOL, PROMPTS, IncidentKind

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CONCERN child alone at home", VisitorText(Word.CONCERN, "child alone at home")),
        ("concern: child alone at home!", VisitorText(Word.CONCERN, "child alone at home!")),
        ("  Left - next: Tesco car park", VisitorText(Word.LEFT, "Tesco car park")),
        ("LEFT next Smith Road", VisitorText(Word.LEFT, "Smith Road")),
        ("left", VisitorText(Word.LEFT)),
        ("Left now", VisitorText(Word.LEFT)),
        ("left, going to the library", VisitorText(Word.LEFT, "the library")),
        ("EXTEND 20", VisitorText(Word.EXTEND, minutes=20)),
        ("extend by 20 mins", VisitorText(Word.EXTEND, minutes=20)),
        ("Extend20", VisitorText(Word.EXTEND, minutes=20)),
        ("extend", VisitorText(Word.EXTEND)),
        ("ENDED no responsible adult", VisitorText(Word.ENDED, "no responsible adult")),
        ("ended. invited in by a child", VisitorText(Word.ENDED, "invited in by a child")),
        ("ok!", VisitorText(Word.OK)),
        ("help", VisitorText(Word.HELP)),
        ("running late", None),
        ("", None),
        ("CONCERNED about", None),
    ],
)
def test_texts_are_read_whatever_the_case_and_punctuation(
    text: str, expected: VisitorText | None
) -> None:
    assert parse_visitor_text(text) == expected


@given(st.text(max_size=400))
def test_any_text_is_read_without_crashing_and_its_command_round_trips(text: str) -> None:
    command = parse_visitor_text(text)
    if command is not None:
        assert parse_visitor_text(as_text(command)) == command


@given(
    st.sampled_from(list(Word)),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.integers(min_value=0, max_value=999_999),
)
def test_a_command_written_out_reads_back_as_itself(word: Word, detail: str, minutes: int) -> None:
    parsed = parse_visitor_text(f"{word.value} {minutes if word is Word.EXTEND else detail}")
    assert parsed is not None and parsed.word is word
    assert parse_visitor_text(as_text(parsed)) == parsed


def test_extend_is_bounded_and_counts_from_now_when_the_return_has_passed() -> None:
    assert extension_problem(None) is not None
    assert extension_problem(0) is not None
    assert extension_problem(MAX_EXTEND_MINUTES + 1) is not None
    assert extension_problem(20) is None
    leave, back = extended_times(
        leave=NOW - timedelta(minutes=30),
        back=NOW - timedelta(minutes=5),
        now=NOW,
        minutes=20,
        left=False,
    )
    assert back == NOW + timedelta(minutes=20) and leave == back
    leave, back = extended_times(
        leave=NOW, back=NOW + timedelta(minutes=30), now=NOW, minutes=20, left=True
    )
    assert leave is None and back == NOW + timedelta(minutes=50)


def test_do_not_enter_a_childs_bedroom() -> None:
    """'Do not enter a child's/young person's bedroom.' (Cottenham, Roselyn House, William
    Lilley): entering is refused where the school's policy says never."""
    problem = decision_problem(
        Rule.BEDROOM,
        "entered_with_controls",
        "asked to see the room",
        controls=[c.value for c in Control],
        policy=DuringPolicy(),
    )
    assert problem is not None and "Do not enter a child's" in problem


def test_a_bedroom_only_with_every_control_of_the_sen_risk_assessment() -> None:
    """SEN Trust: 'Signed agreement from Parent/Carer agreeing to requirement to enter bedroom
    Accompanied by additional staff member or parent as agreed Door of bedroom kept open'."""
    sen = DuringPolicy.from_school({"visits": {"bedroom": "with_controls"}})
    missing = decision_problem(
        Rule.BEDROOM, "entered_with_controls", "agreed", controls=["door_open"], policy=sen
    )
    assert missing is not None and "Signed agreement from Parent/Carer" in missing
    assert "Accompanied by additional staff member" in missing
    every = [c.value for c in Control]
    assert (
        decision_problem(Rule.BEDROOM, "entered_with_controls", "ok", controls=every, policy=sen)
        is None
    )


def test_do_not_go_upstairs_where_the_policy_says_never() -> None:
    """Roselyn House: 'Do not go upstairs in a property.'"""
    never = DuringPolicy.from_school({"visits": {"upstairs": "never"}})
    problem = decision_problem(
        Rule.UPSTAIRS, "went_upstairs_accompanied", "with mum", controls=[], policy=never
    )
    assert problem == "your school's policy says: Do not go upstairs in a property."
    assert (
        decision_problem(
            Rule.UPSTAIRS,
            "went_upstairs_accompanied",
            "with mum",
            controls=[],
            policy=DuringPolicy(),
        )
        is None
    )


def test_a_decision_needs_a_reason_and_one_of_the_rules_choices() -> None:
    assert decision_problem(Rule.SMOKING, "stayed", "x", controls=[], policy=DuringPolicy())
    assert decision_problem(Rule.SMOKING, "refused_left", " ", controls=[], policy=DuringPolicy())


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ("no responsible adult", EndReason.NO_RESPONSIBLE_ADULT),
        ("invited in by a child", EndReason.INVITED_BY_CHILD),
        ("dad refused to stop smoking", EndReason.SMOKING_REFUSED),
        ("dogs loose, would not shut them away", EndReason.ANIMALS_REFUSED),
        ("felt unsafe", EndReason.UNSAFE),
        ("the family asked to rearrange", EndReason.OTHER),
    ],
)
def test_the_reason_a_visit_ended_early_is_read_from_the_visitors_words(
    words: str, reason: EndReason
) -> None:
    assert end_reason(words) is reason


def test_a_followup_needs_an_action_a_person_and_a_due_date_not_in_the_past() -> None:
    """'If follow-up actions are required, these should be logged and monitored on CPOMS.'"""
    today = date(2026, 11, 23)
    assert followup_problem("", "dsl1", today, logged_on=today)
    assert followup_problem("ring mum", " ", today, logged_on=today)
    assert followup_problem("ring mum", "dsl1", today - timedelta(days=1), logged_on=today)
    assert followup_problem("ring mum", "dsl1", today, logged_on=today) is None
    assert is_overdue({"state": "open", "due": "2026-11-22"}, today)
    assert not is_overdue({"state": "done", "due": "2026-11-22"}, today)


def test_an_injury_prompts_the_injury_at_work_protocol() -> None:
    """'Complete injury at work protocol on return.' (SEN Trust, Cottenham, Roselyn House)"""
    assert INJURY_PROTOCOL in PROMPTS[IncidentKind.INJURY]
    assert any("Headteacher" in p for p in PROMPTS[IncidentKind.ACCUSATION])


def test_a_visit_not_started_has_no_incident() -> None:
    from service.domain.visits.visit import Visit

    visit = Visit.plan(
        ref="r",
        school="s",
        staff=["a"],
        pupil_ref="UPN-1",
        address="1 Road",
        purpose="safe_and_well",
        planned_start=NOW,
        expected_leave=NOW + timedelta(minutes=30),
        expected_return=NOW + timedelta(hours=1),
        doorstep=False,
        mobile="+447700900001",
        safe_word_hash="$7$1$x$y",
        planned_by="dsl1",
        timestamp=NOW - timedelta(hours=1),
    )
    with pytest.raises(DomainError):
        visit.record_incident(
            kind=IncidentKind.INJURY, what="bitten", by="a", via="api", timestamp=NOW
        )
