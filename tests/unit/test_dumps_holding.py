"""`dumps_holding` (projections/doc_text.py) writes the very text `dumps` writes for a
document holding the instant it is given: an export's JSON is the same bytes, made
without msgspec's text first when the instant has a zero offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from projections.doc_text import dumps, dumps_holding

TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
AWKWARD = st.sampled_from(["é", "\x7f", "—", "a\nb", "\\", '"Z"', 'Z"', ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # 1e+16 and 1e16: each encoder's own
    TEXT,
    AWKWARD,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(0)), ZoneInfo("Europe/London"), timezone(timedelta(hours=1)), None]
)


@given(
    st.dictionaries(TEXT, VALUES, max_size=6),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    ZONES,
)
def test_a_document_holding_an_instant_is_written_as_dumps_writes_it(
    doc: dict[str, Any], naive: datetime, zone: Any
) -> None:
    instant = naive.replace(tzinfo=zone)
    doc = {**doc, "exported_at": instant}
    assert dumps_holding(doc, instant) == dumps(doc)


def test_an_export_with_utc_times_is_the_standard_librarys_text() -> None:
    """The export's rows' times and its `exported_at` are UTC: `+00:00`, ASCII escapes and
    `1e+16`, as the standard library always wrote them."""
    at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    doc = {"exported_at": at, "who": "Zoë — DSL", "far": 1e16, "rows": [{"recorded_at": at}]}
    text = dumps_holding(doc, at)
    assert text == dumps(doc)
    assert '"2026-12-07T12:00:00+00:00"' in text and "\\u00eb" in text and "1e+16" in text
