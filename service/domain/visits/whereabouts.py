"""Which visit a staff member is out on: the reception sign-out book, as an aggregate.

Moved out of service/domain/visits/visit.py; stored events name it under its old modules
(service/adapters/stored_topics.py, `MOVED_CLASSES`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.errors import InvalidTransition
from service.domain.ids import NAMESPACE


def whereabouts_id(staff: str) -> UUID:
    return uuid5(NAMESPACE, f"whereabouts/{staff}")


class Whereabouts(Aggregate):
    """Which visit a staff member is out on (the reception sign-out book), so a text
    from them moves the right visit on."""

    @staticmethod
    def create_id(staff: str) -> UUID:
        return whereabouts_id(staff)

    @event("Registered")
    def __init__(self, staff: str, timestamp: datetime) -> None:
        self.staff = staff
        self.visit: UUID | None = None

    def sign_out(self, visit: UUID, timestamp: datetime) -> None:
        if self.visit is not None and self.visit != visit:
            raise InvalidTransition(
                f"{self.staff} is still signed out on visit {self.visit}: sign back in first"
            )
        self._signed_out(visit=visit, timestamp=timestamp)

    @event("SignedOut")
    def _signed_out(self, visit: UUID, timestamp: datetime) -> None:
        self.visit = visit

    def sign_in(self, visit: UUID, timestamp: datetime) -> None:
        if self.visit == visit:
            self._signed_in(visit=visit, timestamp=timestamp)

    @event("SignedIn")
    def _signed_in(self, visit: UUID, timestamp: datetime) -> None:
        self.visit = None
