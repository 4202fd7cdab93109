"""A school's visit policy as Lonewatch enforces it, rule by rule, beside the policy's own
words: what a headteacher reads to check the configuration against their written policy."""

from __future__ import annotations

from typing import Any

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


def sheet(policy: VisitPolicy) -> dict[str, Any]:
    """Each rule: its title, what is enforced, the school's words (None where the directory
    gives none), and whether it is on; then the configuration itself."""
    rules = []
    for rule, title in TITLES.items():
        enforced = _enforced(policy, rule)
        rules.append(
            {
                "rule": rule,
                "title": title,
                "on": enforced is not None,
                "enforced": enforced or "Not asked by this school's configuration.",
                "words": policy.words_for(rule),
            }
        )
    return {"rules": rules, "configuration": policy.as_data()}
