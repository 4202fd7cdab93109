"""The history search's SQL finds exactly what a plain reading of its filters would, on
SQLite and PostgreSQL: for any documents and any filters, the page is the reference
filter's, in the same order (newest first), and paging never loses or repeats a document.

The reference compares times as times (`datetime`), so this also holds the claim that UTC
ISO stamps, with or without microseconds, compare as text the way they compare as times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.search import Search
from projections.store import DocWrite, ViewStore, open_view_store

START = datetime(2026, 11, 1, tzinfo=UTC)
NAMES = ["Sam Jones", "Kim O'Neil", "Ann 100%_sure", "sam smith", None]
IDS = ["s-1", "s-2", "s_3"]

stamps = st.integers(min_value=0, max_value=3 * 86_400 * 1_000_000).map(
    lambda us: START + timedelta(microseconds=us - us % 500_000)  # often whole seconds
)
docs = st.lists(
    st.fixed_dictionaries(
        {
            "school": st.sampled_from(["a", "b"]),
            "state": st.sampled_from(["raised", "resolved"]),
            "kind": st.sampled_from(["sos", "fall"]),
            "outcome": st.sampled_from([None, "safe", "false_alarm"]),
            "staff": st.one_of(st.sampled_from(IDS), st.lists(st.sampled_from(IDS), max_size=2)),
            "staff_name": st.sampled_from(NAMES),
            "raised_at": stamps,
        }
    ),
    max_size=25,
)
searches = st.fixed_dictionaries(
    {
        "schools": st.sampled_from([None, ["a"], ["a", "b"], []]),
        "states": st.sampled_from([None, ["raised"], ["raised", "resolved"]]),
        "equals": st.sampled_from([{}, {"kind": "sos"}, {"kind": "fall", "outcome": "safe"}]),
        "holds": st.sampled_from([{}, {"staff": "s-2"}]),
        "present": st.sampled_from([(), ("outcome",)]),
        "person": st.sampled_from([None, "s-1", "s_3", "SAM", "o'n", "%", "_", "100%", "nobody"]),
        "since": st.none() | stamps,
        "until": st.none() | stamps,
        "limit": st.integers(min_value=1, max_value=30),
    }
)


def _holds(value: Any, wanted: str) -> bool:
    return value == wanted or (isinstance(value, list) and wanted in value)


def _cleaned(person: str) -> str:
    return person.lower().replace("\\", "").replace("%", "").replace("_", "")


def reference(rows: list[dict[str, Any]], q: dict[str, Any]) -> list[str]:
    found = []
    for doc in rows:
        if q["schools"] is not None and doc["school"] not in q["schools"]:
            continue
        if q["states"] is not None and doc["state"] not in q["states"]:
            continue
        if any(doc.get(k) != v for k, v in q["equals"].items()):
            continue
        if any(not _holds(doc.get(k), v) for k, v in q["holds"].items()):
            continue
        if any(doc.get(k) is None for k in q["present"]):
            continue
        person = q["person"]
        if person and not (
            _holds(doc["staff"], person)
            or (doc["staff_name"] is not None and _cleaned(person) in doc["staff_name"].lower())
        ):
            continue
        if q["since"] is not None and doc["raised_at"] < q["since"]:
            continue
        if q["until"] is not None and doc["raised_at"] >= q["until"]:
            continue
        found.append(doc)
    found.sort(key=lambda d: (d["raised_at"], d["id"]), reverse=True)
    return [d["id"] for d in found]


@pytest.fixture
def store(database_url: str) -> Iterator[ViewStore]:
    views = open_view_store(database_url)
    try:
        yield views
    finally:
        views.close()


def _search(q: dict[str, Any], offset: int) -> Search:
    iso = {k: None if q[k] is None else q[k].isoformat() for k in ("since", "until")}
    return Search(
        "alert",
        schools=q["schools"],
        states=q["states"],
        equals=q["equals"],
        holds=q["holds"],
        present=q["present"],
        person=q["person"],
        limit=q["limit"],
        offset=offset,
        **iso,
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=docs, q=searches)
def test_the_search_finds_what_its_filters_say_a_page_at_a_time(
    store: ViewStore, rows: list[dict[str, Any]], q: dict[str, Any]
) -> None:
    store.reset("history")
    for n, doc in enumerate(rows):
        doc["id"] = f"{n:04d}"
    writes = [
        DocWrite(
            "alert",
            d["id"],
            d["school"],
            d["state"],
            {**d, "raised_at": d["raised_at"].isoformat()},
        )
        for d in rows
    ]
    store.commit("history", expected=0, position=1, docs=writes, index=[])
    expected = reference(rows, q)

    pages: list[str] = []
    offset = 0
    while True:
        page, more = store.search(_search(q, offset))
        assert len(page) <= q["limit"]
        pages.extend(d["id"] for d in page)
        if not more:
            break
        offset += q["limit"]
    assert pages == expected
