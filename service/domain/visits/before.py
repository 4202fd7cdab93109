"""Before a visit goes out, what the school's policy asks to be done and recorded: a
companion named, the single-or-pair decision and its reason, parents/carers informed (or
why not), each visitor's own confirmations; and, when the visit is authorised or signed
out, the policy applied and what met each of its checks.

`BeforeVisit` is a part of the `Visit` aggregate (a mixin: its events are listed in the
`Visit` body, so they are stored as `Visit.<Event>`, service/domain/visits/parts.py). Each
decision records who made it (actor and role), when (the event's timestamp) and why.
The facts are kept by service/domain/visits/readiness.py's `record`, as the board keeps them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.phone_numbers import phone_problem
from service.domain.visits.parts import VisitPart
from service.domain.visits.policy import (
    STATEMENTS,
    Confirmation,
    Pairs,
    ParentsRule,
    VisitPolicy,
    roles_words,
)
from service.domain.visits.readiness import Check, Step, checks, record, refusal
from service.domain.visits.states import VisitState, expect

DECISIONS = ("single", "pair")


def _recorded(event: Aggregate.Event, aggregate: Any) -> None:
    aggregate.before = record(aggregate.before, type(event).__name__, event.__dict__)


# -- the events (each a `Visit.<name>` once listed in the aggregate's body) -------------


class CompanionNamed(Aggregate.Event):
    """A professional from another agency goes with the visitor (not a directory user)."""

    by: str
    name: str
    organisation: str
    phone: str | None

    def apply(self, aggregate: Any) -> None:
        _recorded(self, aggregate)


class CompanionsDecided(Aggregate.Event):
    """Single member of staff or an additional person: decided by whom (and in what role),
    and why."""

    by: str
    role: str
    decision: str
    reason: str

    def apply(self, aggregate: Any) -> None:
        _recorded(self, aggregate)


class ParentsInformed(Aggregate.Event):
    """Parents/carers informed before arrival (how), or not (the exception and its reason)."""

    by: str
    informed: bool
    note: str

    def apply(self, aggregate: Any) -> None:
        _recorded(self, aggregate)


class VisitorConfirmed(Aggregate.Event):
    """A visitor's own confirmation, with the words they confirmed."""

    by: str
    staff: str
    what: str
    statement: str

    def apply(self, aggregate: Any) -> None:
        _recorded(self, aggregate)


class PolicyApplied(Aggregate.Event):
    """The school's visit policy as it stood when the visit was authorised or signed out,
    and what met each check of that step."""

    by: str
    step: str
    policy: dict[str, Any]
    checks: list[dict[str, Any]]

    def apply(self, aggregate: Any) -> None:
        pass


# -- the commands --------------------------------------------------------------------


class BeforeVisit(VisitPart):
    """What is done before the visit (see the module docstring)."""

    if TYPE_CHECKING:
        school: str
        staff: list[str]
        state: VisitState
        hazards: list[dict[str, Any]]
        before: dict[str, Any]

    def name_companion(
        self,
        *,
        by: str,
        name: str,
        organisation: str,
        phone: str | None,
        rules: VisitPolicy,
        timestamp: datetime,
    ) -> None:
        """A professional from another agency accompanies the visitor, where the school's
        policy counts one as the companion."""
        expect(self.state, "name a companion for", VisitState.PLANNED)
        if not rules.outside_companion:
            raise DomainError(
                "this school's policy does not count a professional from another agency as "
                "the companion: plan the visit with a second member of staff"
            )
        name, organisation = " ".join(name.split()), " ".join(organisation.split())
        if not name or not organisation or len(name) > 200 or len(organisation) > 200:
            raise DomainError("give the companion's name and their agency (up to 200 characters)")
        if phone and (problem := phone_problem(phone, "phone")) is not None:
            raise DomainError(problem)
        self._trigger(
            CompanionNamed,
            by=by,
            name=name,
            organisation=organisation,
            phone=phone or None,
            timestamp=timestamp,
        )

    def decide_companions(
        self,
        *,
        principal: Principal,
        decision: str,
        reason: str,
        rules: VisitPolicy,
        timestamp: datetime,
    ) -> None:
        """Whether the visit is made by a single member of staff or an additional person is
        required, and why; where the policy has it decided with a lead, only they record it."""
        expect(self.state, "record who goes on", VisitState.PLANNED)
        if decision not in DECISIONS:
            raise DomainError("decision must be single (one member of staff) or pair")
        reason = " ".join(reason.split())
        if not reason:
            raise DomainError("say why (the reason is recorded with the decision)")
        if rules.pairs is Pairs.REQUIRED and decision == "single":
            raise DomainError(
                "this school's policy has every home visit accompanied: a single member of "
                "staff cannot go alone"
            )
        if rules.pairs is Pairs.DECIDED and (
            principal.role not in rules.deciders or principal.school != self.school
        ):
            raise DomainError(
                f"this school's policy has this decided with {roles_words(rules.deciders)} "
                "of the school: ask them to record it"
            )
        self._trigger(
            CompanionsDecided,
            by=principal.actor,
            role=principal.role.value,
            decision=decision,
            reason=reason,
            timestamp=timestamp,
        )

    def record_parents(
        self, *, by: str, informed: bool, note: str, rules: VisitPolicy, timestamp: datetime
    ) -> None:
        """Parents/carers informed of the visit before arrival, or the exception and why."""
        expect(self.state, "record parents informed for", VisitState.PLANNED, VisitState.AUTHORISED)
        note = " ".join(note.split())
        if not informed and rules.parents_informed is ParentsRule.REQUIRED:
            raise DomainError(
                "this school's policy has parents/carers informed before every home visit"
            )
        if not informed and not note:
            raise DomainError("say why parents/carers are not informed (the exception is recorded)")
        if len(note) > 1000:
            raise DomainError("keep the note to 1000 characters")
        self._trigger(ParentsInformed, by=by, informed=informed, note=note, timestamp=timestamp)

    def confirm(self, *, principal: Principal, what: str, timestamp: datetime) -> None:
        """A visitor confirms, for themself, what the school's policy has them confirm."""
        expect(self.state, "confirm anything for", VisitState.PLANNED, VisitState.AUTHORISED)
        try:
            confirmation = Confirmation(what)
        except ValueError:
            raise DomainError(
                f"what must be one of: {', '.join(c.value for c in Confirmation)}"
            ) from None
        if principal.username not in self.staff:
            raise DomainError(
                "only a visitor confirms this, for themself: the visitor signs in and confirms"
            )
        if confirmation is Confirmation.RISK_ASSESSMENT and not self.hazards:
            raise DomainError("there is no risk assessment to read yet: record it first")
        self._trigger(
            VisitorConfirmed,
            by=principal.actor,
            staff=principal.username,
            what=confirmation.value,
            statement=STATEMENTS[confirmation],
            timestamp=timestamp,
        )

    def policy_checks(
        self, rules: VisitPolicy, trained: Collection[str], zone: tzinfo = UTC
    ) -> list[Check]:
        return checks(rules, self.before, staff=self.staff, trained=trained, zone=zone)

    def _apply_policy(
        self,
        *,
        step: Step,
        by: str,
        rules: VisitPolicy,
        trained: Collection[str],
        timestamp: datetime,
        zone: tzinfo = UTC,
    ) -> None:
        """Refuse `step` while a check of the school's policy for it is unmet; otherwise
        record the policy applied and what met each check (nothing when it has none), its
        times told in `zone` (the school's)."""
        found = self.policy_checks(rules, trained, zone)
        problem = refusal(found, step)
        if problem:
            raise DomainError(problem)
        mine = [c.as_data() for c in found if c.step == step]
        if mine:
            self._trigger(
                PolicyApplied,
                by=by,
                step=step,
                policy=rules.as_data(),
                checks=mine,
                timestamp=timestamp,
            )
