"""A school's visit policy before the visit, as a state machine over the Visit aggregate
alone (pure domain: no I/O), for any school's configuration hypothesis can draw.

What must always hold, whatever is recorded in whatever order:
- the board never says "ready" while authorising would be refused, nor the reverse: an
  allowed role's authorisation succeeds exactly when the policy's summary lists nothing
  missing before authorisation (the same for signing out);
- a visit is authorised only by a role the school's policy names, and only with every
  check of that step met (what `PolicyApplied` recorded);
- the board's copy of the before-visit facts, evolved from the visit's events by the
  same `record`, is the aggregate's own (so the board shows what the aggregate enforces).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.policy import LEADS, Pairs, ParentsRule, VisitPolicy
from service.domain.visits.readiness import record, summary
from service.domain.visits.rules import DeviceCheck
from service.domain.visits.states import VisitState
from service.domain.visits.visit import Visit
from tests.unit.test_visit_rules import APPENDIX, NINE, POLICY, a_visit

ROLES = [Role.HEADTEACHER, Role.DSL, Role.SLT, Role.OPERATOR, Role.STAFF]
VISITORS = ["s-jones", "s-khan"]

policies = st.builds(
    VisitPolicy,
    authorised_by=st.lists(st.sampled_from(LEADS), min_size=1, unique=True).map(tuple),
    pairs=st.sampled_from(list(Pairs)),
    outside_companion=st.booleans(),
    second_in_sight=st.booleans(),
    parents_informed=st.sampled_from(list(ParentsRule)),
    safeguarding_trained=st.booleans(),
    risk_assessment_signed=st.booleans(),
    charged_phone=st.booleans(),
)


def who(role: Role, username: str = "lead1") -> Principal:
    return Principal(username, "lancaster", role)


class BeforeTheVisit(RuleBasedStateMachine):
    visit: Visit
    rules: VisitPolicy
    trained: frozenset[str]
    board: dict[str, Any]
    authorised_with: list[dict[str, Any]]

    @initialize(
        rules=policies,
        pair=st.booleans(),
        trained=st.sets(st.sampled_from(VISITORS)).map(frozenset),
    )
    def plan(self, rules: VisitPolicy, pair: bool, trained: frozenset[str]) -> None:
        self.rules, self.trained = rules, trained
        self.visit = a_visit(staff=tuple(VISITORS[: 2 if pair else 1]))
        self.visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
        self.board = {}
        self.authorised_with = []
        self._follow()
        self.minute = 0

    def _now(self) -> Any:
        self.minute += 1
        return NINE + timedelta(minutes=self.minute)

    def _follow(self) -> None:
        """The board's copy: the visit's new events through the same `record`."""
        for event in self.visit.collect_events():
            name = type(event).__name__
            self.board = record(self.board, name, event.__dict__)
            if name == "PolicyApplied":
                self.authorised_with.extend(event.checks)  # type: ignore[attr-defined]

    def _try(self, command: Any) -> bool:
        try:
            command()
        except DomainError:
            self.visit.collect_events()  # a refusal records nothing
            return False
        finally:
            self._follow()
        return True

    def _summary(self) -> dict[str, Any]:
        return summary(self.rules, self.visit.before, staff=self.visit.staff, trained=self.trained)

    @rule(decision=st.sampled_from(["single", "pair"]), role=st.sampled_from(ROLES))
    def decide(self, decision: str, role: Role) -> None:
        self._try(
            lambda: self.visit.decide_companions(
                principal=who(role),
                decision=decision,
                reason="as discussed",
                rules=self.rules,
                timestamp=self._now(),
            )
        )

    @rule()
    def name_companion(self) -> None:
        self._try(
            lambda: self.visit.name_companion(
                by="dsl:dsl1",
                name="Pat Rowe",
                organisation="Children's Services",
                phone=None,
                rules=self.rules,
                timestamp=self._now(),
            )
        )

    @rule(informed=st.booleans())
    def parents(self, informed: bool) -> None:
        self._try(
            lambda: self.visit.record_parents(
                by="dsl:dsl1",
                informed=informed,
                note="rang home" if informed else "not answering",
                rules=self.rules,
                timestamp=self._now(),
            )
        )

    @rule(
        what=st.sampled_from(["risk_assessment", "charged_phone"]),
        visitor=st.sampled_from(VISITORS),
    )
    def confirm(self, what: str, visitor: str) -> None:
        self._try(
            lambda: self.visit.confirm(
                principal=who(Role.STAFF, visitor), what=what, timestamp=self._now()
            )
        )

    @rule()
    def reassess(self) -> None:
        self._try(
            lambda: self.visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=self._now())
        )

    @rule(role=st.sampled_from(ROLES))
    def authorise(self, role: Role) -> None:
        if self.visit.state is not VisitState.PLANNED:
            return
        ready = not self._summary()["missing_before_authorisation"]
        done = self._try(
            lambda: self.visit.authorise(
                principal=who(role),
                working_hours="08:00-18:00",
                timezone="Europe/London",
                timestamp=self._now(),
                rules=self.rules,
                trained=self.trained,
            )
        )
        assert done == (ready and role in self.rules.authorised_by), (role, self._summary())

    @rule()
    def depart(self) -> None:
        if self.visit.state is not VisitState.AUTHORISED:
            return
        ready = not self._summary()["missing_before_departure"]
        now = self._now()
        fit = DeviceCheck(device="sos-0001", last_seen=now, battery=90)  # heard from just now
        done = self._try(
            lambda: self.visit.depart(
                by="operator:reception1", device=fit, policy=POLICY, timestamp=now, rules=self.rules
            )
        )
        assert done == ready, self._summary()

    @invariant()
    def the_board_has_what_the_visit_has(self) -> None:
        assert self.board == self.visit.before

    @invariant()
    def authorised_only_by_a_named_role_with_every_check_met(self) -> None:
        if self.visit.state is VisitState.PLANNED:
            return
        role = Role(str(self.visit.authorised_by).partition(":")[0])
        assert role in self.rules.authorised_by
        assert all(c["met"] for c in self.authorised_with)


TestBeforeTheVisit = BeforeTheVisit.TestCase
TestBeforeTheVisit.settings = settings(
    max_examples=150, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
