"""What every projection module shares: a document, a reader of documents, the effects of
one event, and an event's stable name. Apart, so the handler modules (views, visits,
escalation) import it and not each other: no import cycle among the projections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]
Reader = Callable[[str, str], Doc | None]


@dataclass(slots=True)
class Effects:
    """What one event changes: documents (by kind and id) and timeline subjects. (Slots:
    one is made for every event projected.)"""

    docs: dict[tuple[str, str], Doc] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)


def event_name(event: object) -> str:
    """`Alert.Raised`: the class's qualified name, as stored whatever module it moves to."""
    return type(event).__qualname__
