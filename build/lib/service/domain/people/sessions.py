"""Console sessions: a person signed in with a password until they sign out or it expires.

A session is recorded like an API token: its id derives from the hash of the
cookie's secret, so the secret is never stored and a lookup needs no index.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.ids import NAMESPACE

SESSION_LIFETIME = timedelta(hours=12)  # one long shift; then sign in again


def session_id(digest: str) -> UUID:
    return uuid5(NAMESPACE, f"console-session/{digest}")


class ConsoleSession(Aggregate):
    @staticmethod
    def create_id(digest: str) -> UUID:
        return session_id(digest)

    @event("Started")
    def __init__(
        self,
        digest: str,
        username: str,
        role: str,
        school: str | None,
        client: str,
        expires_at: datetime,
        timestamp: datetime,
    ) -> None:
        self.username = username
        self.role = role
        self.school = school
        self.client = client
        self.expires_at = expires_at
        self.ended_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """A session counts until it is ended or its time runs out."""
        return self.ended_at is None and now < self.expires_at

    def end(self, reason: str, timestamp: datetime) -> bool:
        if self.ended_at is not None:
            return False
        self._ended(reason=reason, timestamp=timestamp)
        return True

    @event("Ended")
    def _ended(self, reason: str, timestamp: datetime) -> None:
        self.ended_at = timestamp
