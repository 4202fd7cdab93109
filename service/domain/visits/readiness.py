"""What a school's visit policy asks before a visit is authorised and before it goes out,
and how much of it has been done.

The facts (a companion named, the single-or-pair decision, parents informed, what each
visitor confirmed) are a plain mapping evolved by `record` from the visit's events: the
`Visit` aggregate keeps it, and so does the board's document (projections), through this
same function. `checks` reads it against the policy; the aggregate refuses to authorise
or sign out while a check of that step is unmet, and the console lists the unmet ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal

from service.domain.visits.policy import (
    SECOND_IN_SIGHT,
    STATEMENTS,
    Confirmation,
    Pairs,
    ParentsRule,
    VisitPolicy,
    roles_words,
)

Step = Literal["authorise", "depart"]
AUTHORISE: Final[Step] = "authorise"
DEPART: Final[Step] = "depart"


@dataclass(frozen=True)
class Check:
    """One rule of the school's policy for one visit: met or not, and what to do."""

    rule: str
    step: Step
    met: bool
    needed: str
    """What the rule asks, as an instruction a person can follow."""
    done: str | None = None
    """What met it: who did what, when."""

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


# -- the facts, evolved from the visit's events ----------------------------------------


def record(before: Mapping[str, Any], name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The before-visit facts after the visit's event `name` (its data by field name);
    events that say nothing about them leave them as they were."""
    facts = {k: (dict(v) if isinstance(v, dict) else v) for k, v in before.items()}
    at = _at(data.get("timestamp"))
    by = str(data.get("by") or "")
    if name == "CompanionNamed":
        facts["companion"] = {
            "name": data["name"],
            "organisation": data["organisation"],
            "phone": data.get("phone"),
            "by": by,
            "at": at,
        }
    elif name == "CompanionsDecided":
        facts["decision"] = {
            "decision": data["decision"],
            "reason": data["reason"],
            "by": by,
            "role": data["role"],
            "at": at,
        }
    elif name == "ParentsInformed":
        facts["parents"] = {"informed": data["informed"], "note": data["note"], "by": by, "at": at}
    elif name == "VisitorConfirmed":
        confirmed = {k: dict(v) for k, v in (facts.get("confirmed") or {}).items()}
        confirmed.setdefault(data["what"], {})[data["staff"]] = {"by": by, "at": at}
        facts["confirmed"] = confirmed
    elif name == "RiskAssessed":
        # A new risk assessment has not been read by anyone yet: each visitor signs again.
        confirmed = dict(facts.get("confirmed") or {})
        if confirmed.pop(Confirmation.RISK_ASSESSMENT.value, None) is not None:
            facts["confirmed"] = confirmed
    return facts


def _at(value: object) -> str | None:
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else (str(value) if value else None)


def accompanied(before: Mapping[str, Any], staff: Sequence[str]) -> bool:
    """A second member of staff on the visit, or a named professional from another agency."""
    return len(staff) >= 2 or bool(before.get("companion"))


def _clock(at: object, zone: tzinfo) -> str | None:
    """'14:10 GMT on 2026-12-06': an instant as the school's clock shows it, with the zone's
    name (as the visit's timeline and record tell times); None when there is no instant."""
    if not at:
        return None
    try:
        moment = datetime.fromisoformat(str(at))
    except ValueError:
        return str(at)
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return f"{local:%H:%M} {local.tzname()} on {local:%Y-%m-%d}"


def _when(fact: Mapping[str, Any], zone: tzinfo) -> str:
    clock = _clock(fact.get("at"), zone)
    return f"{fact.get('by')} at {clock}" if clock else str(fact.get("by"))


# -- the checks ----------------------------------------------------------------------


def checks(
    policy: VisitPolicy,
    before: Mapping[str, Any],
    *,
    staff: Sequence[str],
    trained: Collection[str],
    zone: tzinfo = UTC,
) -> list[Check]:
    """Every check the school's policy makes of this visit, met or not, in the order a
    person would do them; who did what, and when, told in `zone` (the school's)."""
    found: list[Check] = []
    pair = _pairs(policy, before, staff, zone)
    if pair is not None:
        found.append(pair)
    parents = _parents(policy, before, zone)
    if parents is not None:
        found.append(parents)
    if policy.safeguarding_trained:
        who = [s for s in staff if s in trained]
        found.append(
            Check(
                "safeguarding_trained",
                AUTHORISE,
                bool(who),
                "at least one member of staff on the visit trained in safeguarding "
                "(the directory's safeguarding_trained)",
                f"trained in safeguarding: {', '.join(who)}" if who else None,
            )
        )
    for rule, what, step in (
        ("risk_assessment_signed", Confirmation.RISK_ASSESSMENT, AUTHORISE),
        ("charged_phone", Confirmation.CHARGED_PHONE, DEPART),
    ):
        if getattr(policy, rule):
            found.append(_confirmed(rule, what, step, before, staff, zone))
    return found


def _pairs(
    policy: VisitPolicy, before: Mapping[str, Any], staff: Sequence[str], zone: tzinfo
) -> Check | None:
    together = accompanied(before, staff)
    decision = before.get("decision")
    companion = before.get("companion")
    with_whom = (
        "a second member of staff or a professional from another agency"
        if policy.outside_companion
        else "a second member of staff"
    )
    done = (
        f"accompanied by {companion['name']} ({companion['organisation']}), named by "
        f"{_when(companion, zone)}"
        if companion
        else ("a pair visit" if len(staff) >= 2 else None)
    )
    if policy.pairs is Pairs.REQUIRED:
        return Check("pairs", AUTHORISE, together, f"a companion: {with_whom}", done)
    if policy.pairs is Pairs.WHERE_POSSIBLE:
        if together:
            return Check("pairs", AUTHORISE, True, f"a companion where possible: {with_whom}", done)
        alone = decision if decision and decision["decision"] == "single" else None
        return Check(
            "pairs",
            AUTHORISE,
            alone is not None,
            f"a companion ({with_whom}), or the reason this visit is made alone",
            f"alone because: {alone['reason']} (recorded by {_when(alone, zone)})"
            if alone
            else None,
        )
    if policy.pairs is Pairs.DECIDED:
        deciders = roles_words(policy.deciders)
        valid = decision if decision and decision["role"] in policy.deciders else None
        if valid is None:
            return Check(
                "pairs",
                AUTHORISE,
                False,
                f"the decision, with {deciders}, whether the visit is made by a single member "
                "of staff or an additional person is required, and why",
            )
        said = (
            f"{'single member of staff' if valid['decision'] == 'single' else 'additional person'}"
            f" decided by {_when(valid, zone)}: {valid['reason']}"
        )
        if valid["decision"] == "pair" and not together:
            return Check(
                "pairs",
                AUTHORISE,
                False,
                f"the additional person it was decided goes with the visitor: {with_whom}",
                said,
            )
        return Check("pairs", AUTHORISE, True, "the single-or-pair decision", said)
    return None


def _parents(policy: VisitPolicy, before: Mapping[str, Any], zone: tzinfo) -> Check | None:
    if policy.parents_informed is ParentsRule.OFF:
        return None
    told = before.get("parents")
    if policy.parents_informed is ParentsRule.REQUIRED:
        met = bool(told and told["informed"])
        needed = "parents/carers informed of the home visit before arrival"
    else:
        met = told is not None
        needed = (
            "parents/carers informed of the home visit before arrival, or the reason they "
            "are not (the exception)"
        )
    done = None
    if told is not None:
        what = "parents/carers informed" if told["informed"] else "not informed, because"
        done = f"{what}: {told['note']} (recorded by {_when(told, zone)})".replace(": ()", "")
    return Check("parents_informed", AUTHORISE, met, needed, done)


def _confirmed(
    rule: str,
    what: Confirmation,
    step: Step,
    before: Mapping[str, Any],
    staff: Sequence[str],
    zone: tzinfo,
) -> Check:
    signed = (before.get("confirmed") or {}).get(what.value) or {}
    waiting = [s for s in staff if s not in signed]
    return Check(
        rule,
        step,
        not waiting,
        f"each visitor confirms: \u201c{STATEMENTS[what]}\u201d"
        + (f" (waiting for {', '.join(waiting)})" if waiting else ""),
        "; ".join(f"{s} confirmed at {_clock(signed[s]['at'], zone)}" for s in staff if s in signed)
        or None,
    )


def unmet(found: Sequence[Check], step: Step) -> list[Check]:
    """The checks of `step` not yet met (those of authorising were met to authorise)."""
    return [c for c in found if not c.met and c.step == step]


def refusal(found: Sequence[Check], step: Step) -> str | None:
    """What to do before `step`, in one sentence; None when the policy is met."""
    missing = unmet(found, step)
    if not missing:
        return None
    verb = "authorising" if step == AUTHORISE else "signing out"
    return f"the school's policy needs, before {verb}: " + "; ".join(c.needed for c in missing)


def instructions(policy: VisitPolicy, before: Mapping[str, Any], staff: Sequence[str]) -> list[str]:
    """What the visitors are told to do on this visit, in the policy's words."""
    said: list[str] = []
    if policy.second_in_sight and accompanied(before, staff):
        said.append(policy.words_for("second_in_sight") or SECOND_IN_SIGHT)
    return said


def summary(
    policy: VisitPolicy,
    before: Mapping[str, Any],
    *,
    staff: Sequence[str],
    trained: Collection[str],
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """What the console shows of a visit before it goes out: who may authorise, each check
    (met or missing, per step), what each visitor must confirm, the instructions; times
    told in `zone` (the school's)."""
    found = checks(policy, before, staff=staff, trained=trained, zone=zone)
    confirm = [
        {"what": what.value, "statement": STATEMENTS[what], "step": step}
        for what, rule, step in (
            (Confirmation.RISK_ASSESSMENT, "risk_assessment_signed", AUTHORISE),
            (Confirmation.CHARGED_PHONE, "charged_phone", DEPART),
        )
        if getattr(policy, rule)
    ]
    return {
        "authorised_by": [r.value for r in policy.authorised_by],
        "authorised_by_words": roles_words(policy.authorised_by),
        "pairs": policy.pairs.value,
        "outside_companion": policy.outside_companion,
        "decided_by": [r.value for r in policy.deciders],
        "decided_by_words": roles_words(policy.deciders),
        "parents_informed": policy.parents_informed.value,
        "checks": [c.as_data() for c in found],
        "missing_before_authorisation": [c.needed for c in unmet(found, AUTHORISE)],
        "missing_before_departure": [c.needed for c in unmet(found, DEPART)],
        "confirm": confirm,
        "instructions": instructions(policy, before, staff),
        "words": dict(policy.words),
        "companion": before.get("companion"),
        "decision": before.get("decision"),
        "parents": before.get("parents"),
        "confirmed": before.get("confirmed") or {},
    }
