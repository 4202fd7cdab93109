"""A record's rows name staff once per distinct text (service/records/timeline.py): what a
DSL reads must be what naming each row afresh gives, whatever repeats and whoever the
event's own staff are."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from service.records.timeline import as_row, as_rows, staff_named

PEOPLE = ["r-ross", "k-smith", "j-doe"]
NAMES = {"r-ross": "Rae Ross", "k-smith": "Kit Smith"}


class Alert:
    class Acknowledged:
        """Worded by its `by` (staff ids in the record's words), with visitors in `staff`."""

        def __init__(self, by: str, via: str, staff: list[str], version: int) -> None:
            self.by, self.via, self.staff = by, via, staff
            self.originator_id, self.originator_version = uuid4(), version
            self.timestamp = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _event(args: tuple[str, str, list[str]], version: int) -> Any:
    by, via, staff = args
    return Alert.Acknowledged(by, via, staff, version)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([f"{p} (staff)" for p in PEOPLE] + PEOPLE),
            st.sampled_from(["sms", "app"]),
            st.lists(st.sampled_from(PEOPLE), max_size=2),
        ),
        max_size=12,
    )
)
def test_rows_named_once_per_text_read_as_each_row_named_afresh(
    made: list[tuple[str, str, list[str]]],
) -> None:
    events = [(n, _event(args, n)) for n, args in enumerate(made)]
    rows = as_rows(events, UTC, NAMES.get)
    for row, (position, event) in zip(rows, events, strict=True):
        plain = as_row(position, event)
        assert row["who"] == staff_named(plain["who"], NAMES.get)
        assert row["summary"] == staff_named(plain["summary"], NAMES.get, event.staff)
