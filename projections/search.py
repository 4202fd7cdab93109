"""Searching the view documents of one kind by their fields, in SQL, a page at a time.

The history pages look back over months of alerts and visits: filtering them in Python
would read every document of a school for each page. Here each filter is a condition on
the stored JSON (SQLite's `json_extract`, PostgreSQL's `->>`), after the (kind, school,
state) index has narrowed the rows, and only one page leaves the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_FIELD = re.compile(r"^[a-z_]+$")


@dataclass(frozen=True)
class Search:
    """Documents of `kind`, newest first by `order_by`.

    `since`/`until` bound `order_by` by text comparison (inclusive, exclusive): the caller
    gives them in the field's own form (UTC ISO stamps as the projections write them, or
    ISO dates), so that comparing text compares times."""

    kind: str
    schools: Sequence[str] | None = None
    states: Sequence[str] | None = None
    equals: Mapping[str, str] = field(default_factory=dict)
    """Field -> the value it must have."""
    holds: Mapping[str, str] = field(default_factory=dict)
    """Field (text or a list of ids) -> an id it must hold."""
    present: Sequence[str] = ()
    """Fields that must be set (not null, not missing)."""
    person: str | None = None
    """A person's id held in `person_field` (text or a list of ids), or part of their name in
    `name_field` (any case)."""
    person_field: str = "staff"
    name_field: str = "staff_name"
    order_by: str = "raised_at"
    range_field: str | None = None
    """The field `since` and `until` bound; `order_by` when not given."""
    since: str | None = None
    until: str | None = None
    limit: int = 50
    offset: int = 0

    def fields(self) -> list[str]:
        return [
            *self.equals,
            *self.holds,
            *self.present,
            self.person_field,
            self.name_field,
            self.order_by,
            self.bounded,
        ]

    @property
    def bounded(self) -> str:
        return self.range_field or self.order_by


class Dialect:
    """How a store reads a JSON field and asks whether a field holds an id (text or list)."""

    def __init__(
        self,
        text: Callable[[str], str],
        holds: Callable[[str], str],
        ordered: Callable[[str], str] | None = None,
        source: str = "lw_view_docs",
    ) -> None:
        self.source = source
        self.text = text
        self.holds = holds
        # A field compared and sorted byte by byte, whatever the database's collation.
        self.ordered = ordered or text


SQLITE = Dialect(
    text=lambda name: f"json_extract(doc, '$.{name}')",
    # json_each over a text value yields that value once; over a list, each item.
    holds=lambda name: f"EXISTS (SELECT 1 FROM json_each(doc, '$.{name}') WHERE value = ?)",  # noqa: S608 (a checked field name)
)
POSTGRES = Dialect(
    text=lambda name: f"(j ->> '{name}')",
    # jsonb containment: a list holds the text if one item is it; a text holds itself.
    holds=lambda name: f"(j -> '{name}') @> to_jsonb(?::text)",
    # A locale's collation may skip punctuation ('+', '.', ':'): stamps compare as bytes.
    ordered=lambda name: f"(j ->> '{name}') COLLATE \"C\"",
    # Each document parsed once, not once per condition (OFFSET 0 keeps the planner from
    # folding the subquery back into the conditions).
    source="lw_view_docs, LATERAL (SELECT doc::jsonb AS j OFFSET 0) AS parsed",
)


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"


def search_sql(search: Search, dialect: Dialect) -> tuple[str, list[Any]] | None:
    """The SELECT for one page (one row more than the page, to tell whether another follows),
    with `?` placeholders; None when the search can match nothing (no schools in view)."""
    for name in search.fields():
        if not _FIELD.match(name):
            raise ValueError(f"not a document field: {name!r}")
    text = dialect.text
    sql = f"SELECT doc FROM {dialect.source} WHERE kind = ?"  # noqa: S608 (no input)
    params: list[Any] = [search.kind]
    for column, values in (("school", search.schools), ("state", search.states)):
        if values is not None:
            if not values:
                return None
            sql += f" AND {column} IN ({', '.join('?' for _ in values)})"
            params.extend(values)
    for name, value in search.equals.items():
        sql += f" AND {text(name)} = ?"
        params.append(value)
    for name, value in search.holds.items():
        sql += f" AND {dialect.holds(name)}"
        params.append(value)
    for name in search.present:
        sql += f" AND {text(name)} IS NOT NULL"
    if search.person:
        sql += (
            f" AND ({dialect.holds(search.person_field)}"
            f" OR lower({text(search.name_field)}) LIKE ?)"
        )
        params.extend([search.person, _like(search.person)])
    if search.since is not None:
        sql += f" AND {dialect.ordered(search.bounded)} >= ?"
        params.append(search.since)
    if search.until is not None:
        sql += f" AND {dialect.ordered(search.bounded)} < ?"
        params.append(search.until)
    sql += f" ORDER BY {dialect.ordered(search.order_by)} DESC, id DESC LIMIT ? OFFSET ?"
    params.extend([search.limit + 1, search.offset])
    return sql, params
