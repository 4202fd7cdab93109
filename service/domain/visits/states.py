"""Where a visit is, from plan to close, and what each state means to someone refused."""

from __future__ import annotations

from enum import StrEnum

from service.domain.errors import InvalidTransition


class VisitState(StrEnum):
    PLANNED = "planned"
    AUTHORISED = "authorised"
    DEPARTED = "departed"  # signed out, on the way
    ARRIVED = "arrived"  # at the property
    LEFT = "left"  # left the property, not yet signed back in
    RETURNED = "returned"  # signed back in
    REPORTED = "reported"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OUT = frozenset({VisitState.DEPARTED, VisitState.ARRIVED, VisitState.LEFT})
"""Away from school: the states the overdue ladder and device watch cover."""

_HINTS = {
    VisitState.PLANNED: "it has not been authorised yet",
    VisitState.AUTHORISED: "the visitor has not signed out (depart) yet",
    VisitState.DEPARTED: "the visitor is on the way and has not arrived",
    VisitState.ARRIVED: "the visitor is at the property",
    VisitState.LEFT: "the visitor has left the property and is not back yet",
    VisitState.RETURNED: "the visitor is already signed back in",
    VisitState.REPORTED: "the visit has been reported",
    VisitState.CLOSED: "the visit is closed",
    VisitState.CANCELLED: "the visit was cancelled",
}


def expect(state: VisitState, action: str, *states: VisitState) -> None:
    """Refuse `action` unless the visit is in one of `states`, saying where it is."""
    if state not in states:
        raise InvalidTransition(f"cannot {action} this visit: {_HINTS[state]}")
