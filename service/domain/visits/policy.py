"""A school's home-visit policy as data: who may authorise a visit, whether visits go in
pairs and who may be the companion, and what must be done before a visit goes out.

The directory file gives it per school (`schools[].policy.visits`); a school that names
none keeps the rules every school had before (the headteacher or the DSL authorises, a
visit is lone or a pair, nothing else is asked). Each rule may carry the school's own
words (`words:`), shown on the policy sheet and beside each step in the console, so a
headteacher can check what Lonewatch enforces against what their policy says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from service.domain.near_miss import did_you_mean
from service.domain.people.directory import Role


class Pairs(StrEnum):
    """Whether a visit goes out alone or with a companion."""

    OPTIONAL = "optional"
    """Lone or a pair, nothing recorded about the choice (the rule before policies were data)."""
    WHERE_POSSIBLE = "where_possible"
    """"Where possible, home visits should be conducted in pairs": a lone visit says why."""
    DECIDED = "decided"
    """"Discuss… whether the visit should be made by a single member of staff or if an
    additional person is required": the decision and its reason are recorded by a lead."""
    REQUIRED = "required"
    """Every visit is accompanied: a second member of staff (or an outside professional,
    where the school allows one)."""


class ParentsRule(StrEnum):
    OFF = "off"
    WHERE_POSSIBLE = "where_possible"
    """Informed before arrival, or the exception recorded with its reason."""
    REQUIRED = "required"


class Confirmation(StrEnum):
    """What a visitor confirms themself, each in words recorded with the confirmation."""

    RISK_ASSESSMENT = "risk_assessment"
    CHARGED_PHONE = "charged_phone"


STATEMENTS: Final[dict[Confirmation, str]] = {
    Confirmation.RISK_ASSESSMENT: (
        "I have read and understand the Community Lone Working Risk Assessment for this visit."
    ),
    Confirmation.CHARGED_PHONE: "I am carrying a charged mobile phone on this visit.",
}

LEADS: Final = (Role.HEADTEACHER, Role.DSL, Role.SLT)
"""The roles a school may name to authorise visits or to decide on a companion."""

DEFAULT_AUTHORISERS: Final = (Role.HEADTEACHER, Role.DSL)

RULES: Final = (
    "authorised_by",
    "pairs",
    "pair_decided_by",
    "outside_companion",
    "second_in_sight",
    "parents_informed",
    "safeguarding_trained",
    "risk_assessment_signed",
    "charged_phone",
)
"""The keys of `policy.visits` read here, besides `words` and the `AT_THE_PROPERTY` choices."""

AT_THE_PROPERTY: Final[dict[str, tuple[str, ...]]] = {
    "bedroom": ("never", "with_controls"),
    "upstairs": ("never", "accompanied"),
}
"""What the school allows at the property (read by `decisions.DuringPolicy`): a bedroom
`never` or `with_controls` (the SEN Trust's controls), upstairs `never` or `accompanied`."""

SECOND_IN_SIGHT: Final = (
    "The second member of staff should remain in sight of the property should there be the "
    "need for increased support."
)
"""The instruction a pair is given where the school's policy says it (Cottenham's words
are the default)."""

ROLE_WORDS: Final[dict[Role, str]] = {
    Role.HEADTEACHER: "the headteacher",
    Role.DSL: "the designated safeguarding lead (DSL)",
    Role.SLT: "a member of the senior leadership team (SLT)",
}


def roles_words(roles: tuple[Role, ...]) -> str:
    """'the headteacher, a member of the senior leadership team (SLT) or the DSL'."""
    words = [ROLE_WORDS.get(r, r.value) for r in roles]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


@dataclass(frozen=True)
class VisitPolicy:
    """One school's home-visit rules; the defaults are the rules before policies were data."""

    authorised_by: tuple[Role, ...] = DEFAULT_AUTHORISERS
    pairs: Pairs = Pairs.OPTIONAL
    pair_decided_by: tuple[Role, ...] = ()
    """Who the single-or-pair decision is made with (`pairs: decided`); empty: the authorisers."""
    outside_companion: bool = False
    """A professional from another agency (not a directory user) may be the companion."""
    second_in_sight: bool = False
    parents_informed: ParentsRule = ParentsRule.OFF
    safeguarding_trained: bool = False
    """At least one visiting member of staff is trained in safeguarding (the directory's
    `safeguarding_trained` on the staff member)."""
    risk_assessment_signed: bool = False
    """Each visiting member of staff signs that they have read the risk assessment."""
    charged_phone: bool = False
    """Each visiting member of staff confirms they carry a charged mobile phone, before
    signing out."""
    words: Mapping[str, str] = field(default_factory=dict)

    @property
    def deciders(self) -> tuple[Role, ...]:
        return self.pair_decided_by or self.authorised_by

    def words_for(self, rule: str) -> str | None:
        return self.words.get(rule)

    @classmethod
    def from_school(cls, school_policy: Mapping[str, Any] | None) -> VisitPolicy:
        """The rules of a school's stored policy (its `visits` key, already checked at import)."""
        data = (school_policy or {}).get("visits") or {}
        return cls(
            authorised_by=tuple(Role(r) for r in data.get("authorised_by") or DEFAULT_AUTHORISERS),
            pairs=Pairs(data.get("pairs") or Pairs.OPTIONAL),
            pair_decided_by=tuple(Role(r) for r in data.get("pair_decided_by") or ()),
            outside_companion=bool(data.get("outside_companion")),
            second_in_sight=bool(data.get("second_in_sight")),
            parents_informed=ParentsRule(data.get("parents_informed") or ParentsRule.OFF),
            safeguarding_trained=bool(data.get("safeguarding_trained")),
            risk_assessment_signed=bool(data.get("risk_assessment_signed")),
            charged_phone=bool(data.get("charged_phone")),
            words=dict(data.get("words") or {}),
        )

    def as_data(self) -> dict[str, Any]:
        """As stored in the directory and copied into the visit's record when it is applied."""
        return {
            "authorised_by": [r.value for r in self.authorised_by],
            "pairs": self.pairs.value,
            "pair_decided_by": [r.value for r in self.pair_decided_by],
            "outside_companion": self.outside_companion,
            "second_in_sight": self.second_in_sight,
            "parents_informed": self.parents_informed.value,
            "safeguarding_trained": self.safeguarding_trained,
            "risk_assessment_signed": self.risk_assessment_signed,
            "charged_phone": self.charged_phone,
            "words": dict(self.words),
        }


def parse_visit_policy(raw: object, where: str) -> tuple[dict[str, Any], list[str]]:
    """The `visits` policy of a directory entry, checked: (what to store, problems).

    Each problem names its place (`schools[0].policy.visits.pairs`) and what is accepted."""
    problems: list[str] = []
    if raw is None:
        return {}, problems
    if not isinstance(raw, dict):
        return {}, [f"{where}: must be a mapping of the visit rules ({', '.join(RULES)}, words)"]
    data: dict[str, Any] = {}
    leads = ", ".join(r.value for r in LEADS)
    for name, value in raw.items():
        here = f"{where}.{name}"
        if name in ("authorised_by", "pair_decided_by"):
            roles = [value] if isinstance(value, str) else value
            if (
                not isinstance(roles, list)
                or not roles
                or not all(isinstance(r, str) and r in {x.value for x in LEADS} for r in roles)
            ):
                problems.append(f"{here}: must be a list of one or more of: {leads}")
            else:
                data[name] = list(dict.fromkeys(roles))
        elif name in ("pairs", "parents_informed"):
            kind: type[StrEnum] = Pairs if name == "pairs" else ParentsRule
            if value not in {k.value for k in kind}:
                problems.append(f"{here}: must be one of: {', '.join(k.value for k in kind)}")
            else:
                data[name] = value
        elif name in AT_THE_PROPERTY:
            if value not in AT_THE_PROPERTY[name]:
                problems.append(f"{here}: must be one of: {', '.join(AT_THE_PROPERTY[name])}")
            else:
                data[name] = value
        elif name in RULES:
            if not isinstance(value, bool):
                problems.append(f"{here}: must be true or false, got {value!r}")
            else:
                data[name] = value
        elif name == "words":
            data[name] = _words(value, here, problems)
        else:
            near = did_you_mean(name, (*RULES, *AT_THE_PROPERTY, "words"))
            problems.append(
                f"{here}: unknown visit rule; "
                + (f"{near} " if near else "")
                + f"known ones are: {', '.join((*RULES, *AT_THE_PROPERTY))}, words"
            )
    if "pair_decided_by" in data and data.get("pairs") != Pairs.DECIDED:
        problems.append(f"{where}.pair_decided_by: is used only with pairs: decided")
    return data, problems


AT_THE_PROPERTY_RULES: Final = (
    "bedroom",
    "upstairs",
    "invited_by_child",
    "no_responsible_adult",
    "smoking",
    "animals",
)
"""The rules at the property (`decisions.Rule`) a school may give its own words for."""


def _words(value: object, where: str, problems: list[str]) -> dict[str, str]:
    known = ", ".join((*RULES, *AT_THE_PROPERTY_RULES))
    if not isinstance(value, dict):
        problems.append(f"{where}: must map a rule ({known}) to your policy's words")
        return {}
    words: dict[str, str] = {}
    for rule, text in value.items():
        if rule not in RULES and rule not in AT_THE_PROPERTY_RULES:
            near = did_you_mean(rule, (*RULES, *AT_THE_PROPERTY_RULES))
            slip = f"{near} " if near else ""
            problems.append(f"{where}.{rule}: not a visit rule; {slip}known ones are: {known}")
        elif not isinstance(text, str) or not text.strip() or len(text) > 2000:
            problems.append(
                f"{where}.{rule}: must be your policy's words (text, 1-2000 characters)"
            )
        else:
            words[rule] = " ".join(text.split())
    return words
