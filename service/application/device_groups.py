"""A group of device readings as the intake saves it, and as it tells its followers.

Split from device_intake.py, which holds the rules of what a reading records; this is
how a group reaches the store and who hears of it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification, Recording

from service.logs import get_logger

log = get_logger(__name__)

Committed = Callable[[list[tuple[Notification, Any | None]]], None]
"""Told each group as committed: every event's notification (its position and stored
bytes) and, for a plain reading, the event itself (decoding the bytes gives it back equal:
tests/invariants/test_committed_handoff.py); None for the rest, which the follower decodes."""

NO_AGGREGATE: Final = UUID(int=0)


class Facts:
    """A batch's plain readings, handed to `save` as one object that gives up its events.

    The library asks of every object saved whether it is a domain event, against a
    runtime-checkable Protocol: on Python 3.11 that check recomputes the protocol's
    members each time (~15 us an object under a heartbeat flood). As one object, the
    batch is asked once.
    """

    def __init__(self, events: list[Aggregate.Created]) -> None:
        self.id = NO_AGGREGATE  # `save` files what it is given by id: none of ours
        self._events = events

    def collect_events(self) -> list[Aggregate.Created]:
        return self._events


def telling(
    followers: Sequence[Committed], vouched: set[int]
) -> Callable[[list[Recording[UUID]]], None] | None:
    """What `UnitOfWork.save(committed=...)` calls with the group's recordings, before the
    views are woken; `vouched`: `id()` of the events that may be handed on as objects."""
    if not followers:
        return None

    def tell(recordings: list[Recording[UUID]]) -> None:
        committed = [
            (r.notification, r.domain_event if id(r.domain_event) in vouched else None)
            for r in recordings
        ]
        for follower in followers:
            try:
                follower(committed)
            except Exception:
                # Committed already: a follower that fails reads the events back instead.
                log.exception("committed_hand_over_failed", follower=repr(follower))

    return tell
