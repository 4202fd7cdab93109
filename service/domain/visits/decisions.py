"""The decisions a visitor makes at the property, each under a rule of the schools' policies,
and the reasons a visit is ended early.

A decision is (rule, choice, why): the rule is quoted from the policy, the choice is what the
visitor did, and some choices end the visit (the policies say to leave). Entering a child's
bedroom or going upstairs is allowed only where the school's policy allows it, and then only
with its controls confirmed. Pure: values in, a refusal (a sentence) or None out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.near_miss import did_you_mean


class Rule(StrEnum):
    INVITED_BY_CHILD = "invited_by_child"
    NO_RESPONSIBLE_ADULT = "no_responsible_adult"
    BEDROOM = "bedroom"
    UPSTAIRS = "upstairs"
    SMOKING = "smoking"
    ANIMALS = "animals"


@dataclass(frozen=True)
class RuleText:
    words: str
    """The policy's own words."""
    choices: tuple[str, ...]
    """What the visitor may record having done; the first is what the policy asks."""
    ends_visit: frozenset[str]
    """Choices after which the visitor leaves: the visit is ended early for this rule."""
    ended_because: str


RULES: dict[Rule, RuleText] = {
    Rule.INVITED_BY_CHILD: RuleText(
        "Do not enter the premises if invited to do so by a child that is on the premises "
        "unsupervised by a responsible adult.",
        ("did_not_enter", "left"),
        frozenset({"left"}),
        "invited in by a child with no responsible adult present",
    ),
    Rule.NO_RESPONSIBLE_ADULT: RuleText(
        "If no responsible adult with parental responsibility for the child is present, the "
        "staff member(s) will return to school and attempt a visit at another time",
        ("returned_to_school",),
        frozenset({"returned_to_school"}),
        "no responsible adult present",
    ),
    Rule.BEDROOM: RuleText(
        "Do not enter a child's/young person's bedroom.",
        ("did_not_enter", "entered_with_controls"),
        frozenset(),
        "",
    ),
    Rule.UPSTAIRS: RuleText(
        "Do not go upstairs in a property unless accompanied by a responsible adult and then "
        "ONLY if you deem it completely safe to do so and necessary.",
        ("did_not_go_upstairs", "went_upstairs_accompanied"),
        frozenset(),
        "",
    ),
    Rule.SMOKING: RuleText(
        "Request that parents do not smoke during your visit - staff should leave if "
        "parents/carers refuse to comply with this request.",
        ("agreed_not_to_smoke", "refused_left"),
        frozenset({"refused_left"}),
        "the responsible adult refused not to smoke",
    ),
    Rule.ANIMALS: RuleText(
        "Request that all animals in the home should be kept in a separate room, and cancel "
        "the visit if the responsible adult refuses, or is unable to adhere to the request",
        ("animals_kept_separate", "refused_left"),
        frozenset({"refused_left"}),
        "the responsible adult refused to keep animals in a separate room",
    ),
}


class Control(StrEnum):
    """The SEN Trust's controls for 'Requirement to enter a bedroom' (its risk assessment)."""

    SIGNED_AGREEMENT = "signed_agreement"
    ACCOMPANIED = "accompanied"
    DOOR_OPEN = "door_open"


BEDROOM_CONTROLS_WORDS = {
    Control.SIGNED_AGREEMENT: "Signed agreement from Parent/Carer agreeing to requirement to "
    "enter bedroom",
    Control.ACCOMPANIED: "Accompanied by additional staff member or parent as agreed",
    Control.DOOR_OPEN: "Door of bedroom kept open during visit",
}


@dataclass(frozen=True)
class DuringPolicy:
    """What a school's policy allows at the property. `bedroom`: `never` (most policies:
    "Do not enter a child's bedroom") or `with_controls` (SEN Trust: only with every
    control of its risk assessment); `upstairs`: `never` (Roselyn House: "Do not go upstairs
    in a property.") or `accompanied` (by a responsible adult, when safe and necessary)."""

    bedroom: str = "never"
    upstairs: str = "accompanied"

    @staticmethod
    def from_school(policy: Mapping[str, Any]) -> DuringPolicy:
        """Read from the school's `policy.visits` (`bedroom`, `upstairs`; absent: the rules
        most of the policies share)."""
        during = policy.get("visits")
        if not isinstance(during, Mapping):
            return DuringPolicy()
        bedroom = str(during.get("bedroom", "never"))
        upstairs = str(during.get("upstairs", "accompanied"))
        return DuringPolicy(
            bedroom=bedroom if bedroom in ("never", "with_controls") else "never",
            upstairs=upstairs if upstairs in ("never", "accompanied") else "never",
        )


def parse_rule(value: object) -> Rule:
    try:
        return Rule(str(value))
    except ValueError:
        near = did_you_mean(value, [r.value for r in Rule])
        slip = f"no rule {value!r}; {near} " if near else ""
        raise ValueError(f"{slip}rule must be one of: {', '.join(Rule)}") from None


def decision_problem(
    rule: Rule,
    choice: str,
    why: str,
    *,
    controls: Collection[str],
    policy: DuringPolicy,
) -> str | None:
    """Why this decision cannot be recorded, or None. A choice the rule does not offer, a
    missing reason, and entering a bedroom or going upstairs where the school's policy says
    never (or without every control it asks for) are refused, quoting the rule."""
    text = RULES[rule]
    if choice not in text.choices:
        return f"for {rule.value}, the choice is one of: {', '.join(text.choices)}"
    if not why.strip():
        return "say why (what you saw or were told): it is recorded with the decision"
    if choice == "entered_with_controls":
        if policy.bedroom != "with_controls":
            return f"your school's policy says: {text.words}"
        missing = [c for c in Control if c.value not in controls]
        if missing:
            return "entering a bedroom needs every control of the risk assessment: " + "; ".join(
                BEDROOM_CONTROLS_WORDS[c] for c in missing
            )
    if choice == "went_upstairs_accompanied" and policy.upstairs != "accompanied":
        return "your school's policy says: Do not go upstairs in a property."
    return None


def ends_visit(rule: Rule, choice: str) -> bool:
    return choice in RULES[rule].ends_visit


class EndReason(StrEnum):
    NO_RESPONSIBLE_ADULT = "no_responsible_adult"
    INVITED_BY_CHILD = "invited_by_child"
    SMOKING_REFUSED = "smoking_refused"
    ANIMALS_REFUSED = "animals_refused"
    UNSAFE = "unsafe"
    OTHER = "other"


_REASON_WORDS: tuple[tuple[EndReason, tuple[str, ...]], ...] = (
    (EndReason.INVITED_BY_CHILD, ("child", "kid", "invited")),
    (EndReason.NO_RESPONSIBLE_ADULT, ("adult", "parent", "carer", "nobody", "no one", "no-one")),
    (EndReason.SMOKING_REFUSED, ("smok", "cigarette", "vape")),
    (EndReason.ANIMALS_REFUSED, ("animal", "dog", "cat", "pet")),
    (EndReason.UNSAFE, ("unsafe", "threat", "aggress", "uncomfortable", "danger", "risk")),
)

REASON_OF_RULE = {
    Rule.INVITED_BY_CHILD: EndReason.INVITED_BY_CHILD,
    Rule.NO_RESPONSIBLE_ADULT: EndReason.NO_RESPONSIBLE_ADULT,
    Rule.SMOKING: EndReason.SMOKING_REFUSED,
    Rule.ANIMALS: EndReason.ANIMALS_REFUSED,
}


def end_reason(words: str) -> EndReason:
    """The kind of reason a visitor's own words give for ending a visit (ENDED <reason>), so
    the board and the records can count them; the words themselves are kept too."""
    lowered = words.lower()
    for reason, clues in _REASON_WORDS:
        if any(clue in lowered for clue in clues):
            return reason
    return EndReason.OTHER
