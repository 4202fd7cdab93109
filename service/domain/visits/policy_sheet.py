"""A school's visit policy as Lonewatch enforces it, rule by rule, beside the policy's own
words: what a headteacher reads to check the configuration against their written policy.
The rules before a visit (who authorises, companions, confirmations) come first, then what
the school allows at the property (a child's bedroom, upstairs) and the decisions a visitor
records there."""

from __future__ import annotations

from typing import Any

from service.domain.visits.decisions import (
    BEDROOM_CONTROLS_WORDS,
    DuringPolicy,
    Rule,
)
from service.domain.visits.policy import (
    SECOND_IN_SIGHT,
    STATEMENTS,
    Confirmation,
    Pairs,
    ParentsRule,
    VisitPolicy,
    roles_words,
)

TITLES = {
    "authorised_by": "Who authorises a home visit",
    "pairs": "Alone or accompanied",
    "outside_companion": "Who may be the companion",
    "second_in_sight": "The second member of staff",
    "parents_informed": "Parents/carers informed before the visit",
    "safeguarding_trained": "Training in safeguarding",
    "risk_assessment_signed": "The visitor's signed risk assessment",
    "charged_phone": "A charged mobile phone",
}

AT_THE_PROPERTY_TITLES = {
    Rule.BEDROOM: "A child's bedroom",
    Rule.UPSTAIRS: "Going upstairs",
    Rule.INVITED_BY_CHILD: "Invited in by a child",
    Rule.NO_RESPONSIBLE_ADULT: "No responsible adult present",
    Rule.SMOKING: "Smoking during the visit",
    Rule.ANIMALS: "Animals in the home",
}

_ENDS_EARLY = "; the visit then ends early, recorded with this reason."

AT_THE_PROPERTY_ENFORCED = {
    Rule.INVITED_BY_CHILD: "If a child with no responsible adult present invites the visitor "
    "in, the visitor records that they did not enter, or that they left" + _ENDS_EARLY,
    Rule.NO_RESPONSIBLE_ADULT: "If no responsible adult with parental responsibility is "
    "present, the visitor records returning to school to visit another time" + _ENDS_EARLY,
    Rule.SMOKING: "The visitor asks that no one smokes during the visit; if the responsible "
    "adult refuses, the visitor records leaving" + _ENDS_EARLY,
    Rule.ANIMALS: "The visitor asks that animals are kept in a separate room; if the "
    "responsible adult refuses or cannot, the visitor records leaving" + _ENDS_EARLY,
}
"""What Lonewatch does for the rules every school's policy shares (decisions.RULES)."""


def _pairs(policy: VisitPolicy) -> str:
    if policy.pairs is Pairs.REQUIRED:
        return (
            "Every visit is accompanied: a visit cannot be authorised until it has a second "
            "member of staff or a named companion."
        )
    if policy.pairs is Pairs.WHERE_POSSIBLE:
        return (
            "Visits go in pairs where possible: a lone visit cannot be authorised until the "
            "reason it is made alone is recorded."
        )
    if policy.pairs is Pairs.DECIDED:
        return (
            f"Before authorising, {roles_words(policy.deciders)} records whether the visit is "
            "made by a single member of staff or an additional person is required, and why; "
            "if an additional person, the visit cannot be authorised until it has one."
        )
    return "A visit may be made by one member of staff or two; nothing more is asked."


def _parents(policy: VisitPolicy) -> str | None:
    if policy.parents_informed is ParentsRule.REQUIRED:
        return (
            "A visit cannot be authorised until it is recorded that parents/carers were informed."
        )
    if policy.parents_informed is ParentsRule.WHERE_POSSIBLE:
        return (
            "A visit cannot be authorised until it is recorded that parents/carers were "
            "informed, or why not (the exception and its reason)."
        )
    return None


def _enforced(policy: VisitPolicy, rule: str) -> str | None:
    """What Lonewatch does for `rule`; None for a rule the school has not turned on."""
    if rule == "authorised_by":
        return (
            f"Only {roles_words(policy.authorised_by)} of the school can authorise a visit. "
            "An evening visit, or one outside working hours, needs the headteacher."
        )
    if rule == "pairs":
        return _pairs(policy)
    if rule == "outside_companion":
        return (
            "A named professional from another agency may be the companion (recorded with "
            "their agency); the visitor still takes an SOS device, since Lonewatch cannot "
            "reach the companion."
            if policy.outside_companion
            else "Only a second member of staff counts as the companion."
        )
    if rule == "second_in_sight":
        if not policy.second_in_sight:
            return None
        if policy.words_for(rule):
            return "Shown to every accompanied visit as an instruction, in your policy's words."
        return f"Shown to every accompanied visit as an instruction: \u201c{SECOND_IN_SIGHT}\u201d"
    if rule == "parents_informed":
        return _parents(policy)
    if rule == "safeguarding_trained":
        return (
            "A visit cannot be authorised unless at least one member of staff on it is marked "
            "trained in safeguarding in the directory."
            if policy.safeguarding_trained
            else None
        )
    if rule == "risk_assessment_signed":
        return (
            "A visit cannot be authorised until each visitor, signed in as themself, confirms: "
            f"\u201c{STATEMENTS[Confirmation.RISK_ASSESSMENT]}\u201d A new risk assessment "
            "needs confirming again."
            if policy.risk_assessment_signed
            else None
        )
    if rule == "charged_phone":
        return (
            "A visitor cannot sign out until each visitor confirms: "
            f"\u201c{STATEMENTS[Confirmation.CHARGED_PHONE]}\u201d"
            if policy.charged_phone
            else None
        )
    return None


def _at_the_property(during: DuringPolicy, rule: Rule) -> str:
    """What Lonewatch does at the property for `rule`, as the school's policy allows."""
    if rule is Rule.BEDROOM:
        if during.bedroom == "with_controls":
            controls = "; ".join(BEDROOM_CONTROLS_WORDS.values())
            return (
                "A visitor may enter a child's bedroom only with every control of the risk "
                f"assessment confirmed ({controls}); otherwise they record that they did not "
                "enter."
            )
        return (
            "A visitor may not enter a child's bedroom: recording that they entered is refused "
            "with your policy's rule."
        )
    if rule is Rule.UPSTAIRS:
        if during.upstairs == "accompanied":
            return (
                "A visitor may go upstairs only accompanied by a responsible adult, and only if "
                "they judge it completely safe and necessary; they record that they did, and why."
            )
        return (
            "A visitor may not go upstairs in a property: recording that they went upstairs "
            "is refused with your policy's rule."
        )
    return AT_THE_PROPERTY_ENFORCED[rule]


def sheet(policy: VisitPolicy, during: DuringPolicy | None = None) -> dict[str, Any]:
    """Each rule: its title, when it applies (`before` the visit or `at_the_property`), what
    is enforced, the school's words (None where the directory gives none), and whether it is
    on; then the configuration itself. The rules at the property are always on: each school
    says what it allows in a bedroom and upstairs, and the others every policy shares."""
    during = during or DuringPolicy()
    rules = []
    for rule, title in TITLES.items():
        enforced = _enforced(policy, rule)
        rules.append(
            {
                "rule": rule,
                "title": title,
                "when": "before",
                "on": enforced is not None,
                "enforced": enforced or "Not asked by this school's configuration.",
                "words": policy.words_for(rule),
            }
        )
    for at, title in AT_THE_PROPERTY_TITLES.items():
        rules.append(
            {
                "rule": at.value,
                "title": title,
                "when": "at_the_property",
                "on": True,
                "enforced": _at_the_property(during, at),
                "words": policy.words_for(at.value),
            }
        )
    configuration = {**policy.as_data(), "bedroom": during.bedroom, "upstairs": during.upstairs}
    return {"rules": rules, "configuration": configuration}
