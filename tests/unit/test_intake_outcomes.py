"""A plain reading's outcome, made without its frozen dataclass's `__init__` (once per
heartbeat, device_intake.py `_recorded`), is the outcome the dataclass makes."""

from __future__ import annotations

import dataclasses
from uuid import uuid4

import pytest

from service.application import device_intake
from service.application.device_outcomes import Intaken, Outcome


@pytest.mark.parametrize(
    ("flags", "skew"), [((), None), (("clock_skew",), 400.0), (("rejected_fields",), None)]
)
def test_a_recorded_reading_made_quickly_is_the_dataclasss_own(
    flags: tuple[str, ...], skew: float | None
) -> None:
    message_id = uuid4()
    quick = device_intake._recorded(message_id, flags, skew)
    made = Intaken(Outcome.RECORDED, message_id, flags=flags, clock_skew_seconds=skew)
    assert quick == made and hash(quick) == hash(made)
    assert vars(quick) == vars(made)
    assert not quick.announced and quick.requested == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.outcome = Outcome.DUPLICATE  # type: ignore[misc]
