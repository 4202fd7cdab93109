"""What a view store writes reads back as it was given, on PostgreSQL and SQLite alike.

PostgreSQL's documents and index go over COPY as text made by projections/store.py (its
own escaping of tabs, newlines, carriage returns and backslashes, `\\N` for NULL), and
documents are encoded by msgspec where the standard library would read them the same;
a mistake in either would store something else than the views computed.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from projections.doc_text import dumps
from projections.store import DocWrite, IndexEntry, ViewStore, open_view_store
from simulators.local_stack import scratch_database
from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts

# Text any store can hold: no lone surrogates, no NUL (the gateway refuses both).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
AWKWARD = st.sampled_from(["a\tb", "a\nb", "a\rb", "a\\b", "\\N", "\\.", "é", "\x7f", ""])
IDS = st.one_of(TEXT, AWKWARD, st.builds("".join, st.lists(AWKWARD, max_size=4)))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    IDS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(IDS, inner, max_size=4)),
    max_leaves=12,
)
DOCS = st.dictionaries(IDS, VALUES, max_size=6)


@settings(max_examples=300, deadline=None)
@given(doc=DOCS)
def test_a_document_reads_back_as_the_standard_library_wrote_it(doc: dict[str, Any]) -> None:
    old = json.dumps(doc, separators=(",", ":"))
    assert json.loads(dumps(doc)) == json.loads(old)
    assert dumps(doc) == dumps(json.loads(dumps(doc)))  # stable: a rebuild writes the same


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 9, 0, 0, 120000, tzinfo=UTC),
        datetime(2026, 12, 6, 9, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 12, 6, 9, 0),
        date(2026, 12, 6),
        UUID("0b6c1b5e-1a33-5d7e-9a8e-3b0f6a4e2f11"),
        "\ud800",  # a lone surrogate: the standard library escapes it
    ],
)
def test_datetimes_and_ids_read_as_they_always_did(value: Any) -> None:
    doc = {"at": value, "name": "Zoë"}
    old = json.dumps(
        doc,
        separators=(",", ":"),
        default=lambda v: v.isoformat() if isinstance(v, date) else str(v),
    )
    assert json.loads(dumps(doc)) == json.loads(old)


def test_a_non_finite_number_is_stored_as_json_null() -> None:
    """The standard library wrote `NaN`, which is not JSON (PostgreSQL's jsonb refused it)."""
    assert json.loads(dumps({"x": math.nan, "y": math.inf})) == {"x": None, "y": None}


def _stored(views: ViewStore) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with views._reading() as cur:
        cur.execute("SELECT kind, id, school, state, doc FROM lw_view_docs")
        docs = [tuple(row) for row in cur.fetchall()]
        cur.execute(
            "SELECT subject, position, originator_id, originator_version FROM lw_view_index"
        )
        index = [tuple(row) for row in cur.fetchall()]
    # Sorted here: the database's collation may order text otherwise than Python.
    return sorted(docs, key=lambda row: row[1]), sorted(index, key=lambda row: row[:2])


ROWS = st.lists(
    st.tuples(IDS, st.one_of(st.none(), IDS), st.one_of(st.none(), IDS), DOCS),
    min_size=1,
    max_size=45,  # below and above the 20 rows from which PostgreSQL takes COPY
    unique_by=lambda row: row[0],
)


def _check_round_trip(url: str, rows: list[tuple[Any, ...]]) -> None:
    views = open_view_store(url)
    try:
        views.reset("test")
        writes = [
            DocWrite("kind", doc_id, school, state, doc) for doc_id, school, state, doc in rows
        ]
        index = [
            IndexEntry(doc_id, position, school or "", position * 3)
            for position, (doc_id, school, _, _) in enumerate(rows, start=1)
        ]
        views.commit("test", expected=0, position=len(rows), docs=writes, index=index)
        docs, stored_index = _stored(views)
        assert docs == sorted(
            (("kind", w.id, w.school, w.state, dumps(w.doc)) for w in writes),
            key=lambda row: row[1],
        ), "each document, its id and its columns as given, its text as dumps made it"
        assert stored_index == sorted((tuple(entry) for entry in index), key=lambda r: r[:2])
        for write in writes:
            assert views.get("kind", write.id) == json.loads(dumps(write.doc))
    finally:
        views.close()


@settings(max_examples=60, deadline=None)
@given(rows=ROWS)
def test_sqlite_stores_what_it_is_given(rows: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _check_round_trip(f"sqlite:///{Path(tmp) / 'views.sqlite3'}", rows)


@pytest.fixture(scope="module")
def postgres_views() -> Iterator[str]:
    need_service("PostgreSQL", *pg_admin_parts())
    with scratch_database(POSTGRES_ADMIN_URL, "lw_view_text") as url:
        yield url


AWKWARD_ROWS = [
    (f"{i}{awkward}", awkward or None, awkward, {awkward: [awkward, i / 3]})
    for i, awkward in enumerate(["a\tb", "a\nb", "a\rb", "a\\b", "\\N", "\\.", "é", ""] * 3)
]

BACKSLASHED_ROWS = [
    (f"{i}{awkward}", awkward, None, {awkward: awkward})
    for i, awkward in enumerate(["a\\b", "\\N", "\\."] * 8)
]


@settings(max_examples=40, deadline=None)
@given(rows=ROWS)
@example(rows=AWKWARD_ROWS[:5])  # by statements
@example(rows=AWKWARD_ROWS)  # by COPY
@example(rows=BACKSLASHED_ROWS)  # by COPY, with no tab or newline anywhere
def test_postgres_stores_what_it_is_given(postgres_views: str, rows: list[tuple[Any, ...]]) -> None:
    _check_round_trip(postgres_views, rows)
