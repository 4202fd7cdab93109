"""`DeviceReading` is made for every message a device sends, so its `__init__` is written out
instead of generated (a frozen dataclass's sets each field through `object.__setattr__`). It
must still behave as the generated one would."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from service.domain.devices.messages import DeviceReading


def _reading(**changes: object) -> DeviceReading:
    values: dict[str, object] = {
        "device_id": "fob-1",
        "kind": "location",
        "msg_id": "m-1",
        "device_ts": datetime(2026, 12, 6, tzinfo=UTC),
        "lat": 51.5,
        "lon": -0.1,
        "acc": 5.0,
        "battery": 80,
        "text": None,
        "seq": 3,
    }
    values.update(changes)
    return DeviceReading(**values)  # type: ignore[arg-type]


def test_a_reading_sets_every_field_and_stays_frozen() -> None:
    reading = _reading()
    names = [f.name for f in dataclasses.fields(DeviceReading)]
    assert list(vars(reading)) == names  # every field, none more, in declared order
    assert reading.rejected_fields == {} and reading.extra == {}
    assert reading.rejected_fields is not _reading().rejected_fields  # never shared
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.kind = "sos"  # type: ignore[misc]
    assert reading == _reading() and reading != _reading(battery=81)
    changed = dataclasses.replace(reading, extra={"source": "traccar"})
    assert changed.extra == {"source": "traccar"} and changed.battery == 80
    positional = DeviceReading(*(getattr(reading, n) for n in names))
    assert positional == reading
