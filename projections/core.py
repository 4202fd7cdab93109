"""What every projection module shares: a document, a reader of documents, the effects of
one event, and an event's stable name. Apart, so the handler modules (views, visits,
escalation) import it and not each other: no import cycle among the projections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Reader = Callable[[str, str], Doc | None]


@dataclass(slots=True, init=False)
class Effects:
    """What one event changes: documents (by kind and id) and timeline subjects. (Slots
    and a plain `__init__`: one is made for every event projected, and the generated one's
    default factories cost half as much again; equal as a dataclass is.)"""

    docs: dict[tuple[str, str], Doc]
    subjects: list[str]

    def __init__(self) -> None:
        self.docs = {}
        self.subjects = []


def event_name(event: object) -> str:
    """`Alert.Raised`: the class's qualified name, as stored whatever module it moves to."""
    return type(event).__qualname__
