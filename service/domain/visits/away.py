"""The visit itself, from signing out to signing back in: departing (a lone visitor only
with an operational SOS device, each visitor having confirmed what the school's policy
asks before leaving), arriving, leaving the property or finding no answer, returning, and
checking in on the way.

`Away` is a part of the `Visit` aggregate (a mixin: `Visit` lists these event classes in
its body, so they are stored as `Visit.<Event>` in service/domain/visits/visit.py, as they
always were: each event's fields are the old command method's arguments, in their order,
so the stored bytes are the same; tests/unit/test_visit_stored_events.py holds both).
Times come in as arguments, never from a clock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

from service.domain.errors import DomainError
from service.domain.visits.overdue_ladder import OverduePolicy
from service.domain.visits.parts import VisitPart
from service.domain.visits.policy import VisitPolicy
from service.domain.visits.readiness import DEPART, Step
from service.domain.visits.rules import DeviceCheck, device_problem
from service.domain.visits.states import OUT, VisitState, expect

# -- the events (each a `Visit.<name>` once listed in the aggregate's body) -------------


class Departed(Aggregate.Event):
    """Signed out: the device taken (a lone visitor's), the overdue policy and deadlines."""

    by: str
    device: str | None
    device_last_seen: datetime | None
    device_battery: int | None
    policy: dict[str, Any]
    leave_deadline: datetime
    return_deadline: datetime

    def apply(self, aggregate: Any) -> None:
        aggregate.state = VisitState.DEPARTED
        aggregate.device = self.device
        aggregate.policy = self.policy
        aggregate.leave_deadline = self.leave_deadline
        aggregate.return_deadline = self.return_deadline
        aggregate.departed_at = self.timestamp


class Arrived(Aggregate.Event):
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        aggregate.state = VisitState.ARRIVED


class LeftProperty(Aggregate.Event):
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        aggregate.state = VisitState.LEFT


class NoAnswer(Aggregate.Event):
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        aggregate.state = VisitState.LEFT
        aggregate.no_answer = True


class Returned(Aggregate.Event):
    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        aggregate.state = VisitState.RETURNED


class CheckedIn(Aggregate.Event):
    """The visitor said they are OK, with no ladder running (the answer to a prompt)."""

    by: str
    via: str

    def apply(self, aggregate: Any) -> None:
        pass


# -- the commands ---------------------------------------------------------------------


class Away(VisitPart):
    """The visit out of school (see the module docstring)."""

    state: VisitState
    expected_leave: datetime
    expected_return: datetime

    if TYPE_CHECKING:

        @property
        def lone(self) -> bool: ...

        @property
        def ladder_active(self) -> bool: ...

        def end_ladder(self, *, by: str, how: str, timestamp: datetime) -> None: ...

        def _apply_policy(
            self,
            *,
            step: Step,
            by: str,
            rules: VisitPolicy,
            trained: Collection[str],
            timestamp: datetime,
            zone: tzinfo = ...,
        ) -> None: ...

    def depart(
        self,
        *,
        by: str,
        device: DeviceCheck,
        policy: OverduePolicy,
        timestamp: datetime,
        rules: VisitPolicy | None = None,
        timezone: str = "UTC",
    ) -> None:
        """Sign out. A lone visitor must take an operational SOS device; each visitor has
        confirmed what the school's policy has them confirm before leaving (the words of
        when, in the school's `timezone`)."""
        expect(self.state, "sign out for", VisitState.AUTHORISED)
        if rules is not None:
            self._apply_policy(
                step=DEPART,
                by=by,
                rules=rules,
                trained=(),
                timestamp=timestamp,
                zone=ZoneInfo(timezone),
            )
        if self.lone:
            problem = device_problem(
                device=device.device,
                last_seen=device.last_seen,
                battery=device.battery,
                now=timestamp,
                offline_after=policy.offline_after,
                low_battery_below=policy.low_battery_below,
            )
            if problem:
                raise DomainError(problem)
        self._trigger(
            Departed,
            by=by,
            device=device.device if self.lone else None,
            device_last_seen=device.last_seen if self.lone else None,
            device_battery=device.battery if self.lone else None,
            policy=policy.as_event_data(),
            leave_deadline=self.expected_leave + policy.grace,
            return_deadline=self.expected_return + policy.grace,
            timestamp=timestamp,
        )

    def arrive(self, *, by: str, via: str, timestamp: datetime) -> None:
        expect(self.state, "record arriving at", VisitState.DEPARTED)
        self._trigger(Arrived, by=by, via=via, timestamp=timestamp)

    def leave(self, *, by: str, via: str, timestamp: datetime) -> None:
        """Left the property (let the school know immediately)."""
        expect(
            self.state, "record leaving the property on", VisitState.DEPARTED, VisitState.ARRIVED
        )
        self._trigger(LeftProperty, by=by, via=via, timestamp=timestamp)

    def record_no_answer(self, *, by: str, via: str, timestamp: datetime) -> None:
        """No response from the property: a 'sorry we missed you' letter is left, and the
        visitor leaves."""
        expect(self.state, "record no answer on", VisitState.DEPARTED, VisitState.ARRIVED)
        self._trigger(NoAnswer, by=by, via=via, timestamp=timestamp)

    def return_(self, *, by: str, via: str, timestamp: datetime) -> None:
        """Signed back in; ends an overdue ladder at whatever step it had reached."""
        expect(self.state, "sign back in from", *OUT)
        if self.ladder_active:
            self.end_ladder(by=by, how=f"returned ({via})", timestamp=timestamp)
        self._trigger(Returned, by=by, via=via, timestamp=timestamp)

    def check_in(self, *, by: str, via: str, timestamp: datetime) -> None:
        """The visitor says they are OK (a text, a device check-in). During an overdue
        ladder this ends it; otherwise it answers the prompt to confirm."""
        expect(self.state, "check in on", *OUT)
        if self.ladder_active:
            self.end_ladder(by=by, how=via, timestamp=timestamp)
        else:
            self._trigger(CheckedIn, by=by, via=via, timestamp=timestamp)
