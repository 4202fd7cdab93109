"""A reading's outcome (one made per heartbeat, device_intake.py) is a value: immutable,
hashable, equal to another made of the same fields, changed only into a new one."""

from __future__ import annotations

from uuid import uuid4

import pytest

from service.application.device_outcomes import Intaken, Outcome


@pytest.mark.parametrize(
    ("flags", "skew"), [((), None), (("clock_skew",), 400.0), (("rejected_fields",), None)]
)
def test_a_recorded_readings_outcome_is_an_immutable_hashable_value(
    flags: tuple[str, ...], skew: float | None
) -> None:
    message_id = uuid4()
    made = Intaken(Outcome.RECORDED, message_id, flags=flags, clock_skew_seconds=skew)
    again = Intaken(Outcome.RECORDED, message_id, flags=flags, clock_skew_seconds=skew)
    assert made == again and hash(made) == hash(again) and len({made, again}) == 1
    assert not made.announced and made.requested == () and made.alert_id is None
    with pytest.raises(AttributeError):
        made.outcome = Outcome.DUPLICATE  # type: ignore[misc]
    flagged = made._replace(flags=(*flags, "id_reused"))
    assert flagged.flags[-1] == "id_reused" and made.flags == flags


def test_only_a_recorded_reading_with_no_flag_and_no_alert_is_quiet() -> None:
    """What the gateway settles with an acknowledgement and a count alone (acks.py)."""
    message_id, alert_id = uuid4(), uuid4()
    assert Intaken(Outcome.RECORDED, message_id).quiet
    assert not Intaken(Outcome.RECORDED, message_id, flags=("rejected_fields",)).quiet
    assert not Intaken(Outcome.RECORDED, message_id, flags=("clock_skew",)).quiet
    assert not Intaken(Outcome.RECORDED, message_id, alert_id=alert_id).quiet
    assert not Intaken(Outcome.DUPLICATE, message_id).quiet
    assert not Intaken(Outcome.UNKNOWN_DEVICE).quiet
