"""Who may authorise a home visit: the roles the school's policy names, except that a visit
outside school hours (an evening, a weekend, before opening) needs the headteacher alone.

One rule, asked in two places: `Visit.authorise` refuses with it, and the visit board asks
it for the reader before they press "Authorise the visit", so the button and the refusal
can never disagree. Pure: the visit's planned times and the school's hours come in as
arguments; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.policy import roles_words
from service.domain.visits.rules import can_authorise, needs_headteacher

OUT_OF_HOURS = "outside school hours"


@dataclass(frozen=True)
class Authorisation:
    """Who may authorise this visit, and whether this reader may (and if not, why not)."""

    roles: tuple[Role, ...]
    headteacher_because: str | None
    """Why only the headteacher may (the visit is outside school hours), or None."""
    refusal: str | None
    """Why this reader may not, in the words the refusal uses; None when they may."""

    @property
    def may(self) -> bool:
        return self.refusal is None

    @property
    def words(self) -> str:
        """'the headteacher (outside school hours)', or the policy's roles in words."""
        who = roles_words(self.roles)
        return f"{who} ({OUT_OF_HOURS})" if self.headteacher_because else who

    def as_data(self) -> dict[str, Any]:
        return {
            "may_authorise": self.may,
            "authorised_by": [r.value for r in self.roles],
            "authorised_by_words": self.words,
            "headteacher_because": self.headteacher_because,
            "why_not": self.refusal,
        }


def authorisation(
    principal: Principal,
    *,
    school: str,
    start: datetime,
    end: datetime,
    authorised_by: tuple[Role, ...],
    working_hours: str,
    timezone: str,
) -> Authorisation:
    """Whether `principal` may authorise a visit of `school` planned from `start` to `end`
    (only who may: the risk assessment and the policy's checks are asked separately)."""
    because = needs_headteacher(start, end, working_hours=working_hours, timezone=timezone)
    roles = (Role.HEADTEACHER,) if because else authorised_by
    if because and principal.role is not Role.HEADTEACHER and principal.role in authorised_by:
        refusal: str | None = (
            f"this visit needs the headteacher's express approval because {because}"
        )
    else:
        refusal = can_authorise(principal, school, roles)
    return Authorisation(roles=roles, headteacher_because=because, refusal=refusal)
