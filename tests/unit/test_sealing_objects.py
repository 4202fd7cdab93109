"""The library's objects the sealing store makes for every event stored, made without their
frozen dataclass's `__init__` (service/adapters/sealing.py, `made`): each must be the very
object that `__init__` makes. Fails if eventsourcing changes their shape."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification, Recording, StoredEvent

from service.adapters.sealing import made

_VALUES: dict[type, dict[str, Any]] = {
    StoredEvent: {
        "originator_id": uuid4(),
        "originator_version": 1,
        "topic": "a:B",
        "state": b"{}",
    },
    Notification: {
        "originator_id": uuid4(),
        "originator_version": 3,
        "topic": "a:B",
        "state": b"{}",
        "id": 42,
    },
    Recording: {"domain_event": object(), "notification": None},
}


@pytest.mark.parametrize("cls", list(_VALUES), ids=lambda c: c.__name__)
def test_made_is_what_init_makes(cls: type) -> None:
    values = _VALUES[cls]
    assert [f.name for f in fields(cls)] == list(values)  # every field, in declared order
    assert not hasattr(cls, "__post_init__")  # nothing that `made` skips
    ours, theirs = made(cls, **values), cls(**values)
    assert ours == theirs and repr(ours) == repr(theirs)
    assert list(vars(ours)) == list(vars(theirs))
    with pytest.raises(AttributeError):  # still frozen
        ours.topic = "x"
