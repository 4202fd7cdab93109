"""How a part of the `Visit` aggregate kept in a module of its own records its events.

eventsourcing names an event by the aggregate class that defines it (`Visit.<Event>` in
service/domain/visits/visit.py): a part (a mixin: the watch, the tasks) declares its event
classes, the `Visit` body lists them, and the library makes them the aggregate's own there.
A part triggers that own class, so what is stored is named as it always was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate


class VisitPart:
    if TYPE_CHECKING:

        @property
        def id(self) -> UUID: ...

        def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None: ...

    def _trigger(self, event: type[Aggregate.Event], **kwargs: Any) -> None:
        """Trigger the aggregate's own class of `event`, the one stored as `Visit.<name>`."""
        own = type(self).__dict__.get(event.__name__)
        if own is None:
            raise TypeError(f"{type(self).__name__} must list {event.__name__} in its body")
        self.trigger_event(own, **kwargs)
