"""A rule or field typed one slip from a known one is named back ("did you mean upstairs?"),
by one rule wherever a person names something from a closed set: a visit rule at the
property, a school's visit policy in the directory file, a directory file's field."""

from __future__ import annotations

import pytest

from service.domain.near_miss import did_you_mean
from service.domain.visits.decisions import parse_rule
from service.domain.visits.policy import parse_visit_policy


def test_a_slip_is_named_back_and_a_guess_is_not() -> None:
    assert did_you_mean("upstars", ["bedroom", "upstairs"]) == "did you mean upstairs?"
    assert did_you_mean("escort", ["bedroom", "upstairs"]) is None


def test_a_rule_at_the_property_typed_with_a_slip_says_which_was_meant() -> None:
    with pytest.raises(ValueError, match=r"no rule 'upstars'; did you mean upstairs\? rule must"):
        parse_rule("upstars")
    with pytest.raises(ValueError, match=r"^rule must be one of: "):
        parse_rule("escort")


def test_a_schools_visit_policy_rule_typed_with_a_slip_says_which_was_meant() -> None:
    _, problems = parse_visit_policy(
        {"bedrom": "never", "charged_phon": True, "words": {"upstair": "Never go upstairs."}},
        "schools[0].policy.visits",
    )
    assert problems[0].startswith(
        "schools[0].policy.visits.bedrom: unknown visit rule; did you mean bedroom? known ones"
    )
    assert "charged_phon: unknown visit rule; did you mean charged_phone? " in problems[1]
    assert problems[2].startswith(
        "schools[0].policy.visits.words.upstair: not a visit rule; did you mean upstairs? "
    )
