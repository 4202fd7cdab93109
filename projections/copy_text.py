"""Rows as one text in COPY's text format, for the view store's COPY (projections/store.py).

Made here in one pass rather than row by row through psycopg's `write_row`, which dumps each
value in Python: a rebuild writes a million index rows, the live views thousands a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"
_BACKSLASH = "\\"


def _copy_value(value: str | None) -> str:
    """A text value as COPY's text format reads it: backslash, tab, newline and carriage
    return escaped, None as `\\N`."""
    return _COPY_NULL if value is None else value.translate(_COPY_ESCAPES)


def _plain(text: str, rows: int, fields: int) -> bool:
    """Whether `rows` lines of `fields` values, joined by tabs and newlines, needed no
    escape: no value held a tab, newline, carriage return or backslash (counted in C;
    ids nearly always pass, and the rare one that does not is escaped value by value)."""
    return (
        text.count("\t") == rows * (fields - 1)
        and text.count("\n") == rows
        and _BACKSLASH not in text
        and "\r" not in text
    )


def copy_docs(rows: Sequence[tuple[Any, ...]]) -> str:
    """Document rows (kind, id, school, state, JSON text) in COPY's text format. The JSON
    holds no tab, newline or carriage return (JSON escapes them), only backslashes."""
    keys = "".join(
        [f"{kind}\t{doc_id}\t{school}\t{state}\n" for kind, doc_id, school, state, _ in rows]
    )
    if _plain(keys, len(rows), 4):
        null = _COPY_NULL
        return "".join(
            [
                f"{kind}\t{doc_id}\t{null if school is None else school}\t"
                f"{null if state is None else state}\t{doc.replace(_BACKSLASH, _BACKSLASH * 2)}\n"
                for kind, doc_id, school, state, doc in rows
            ]
        )
    esc = _copy_value
    return "".join(["\t".join(map(esc, row)) + "\n" for row in rows])


def copy_index(rows: Sequence[tuple[Any, ...]]) -> str:
    """Index rows (subject, position, originator id, version) in COPY's text format."""
    # `%` over each row as it is, in C: an f-string unpacks the row into four names first,
    # half as much again a row (a heartbeat writes two).
    text = "".join(["%s\t%d\t%s\t%d\n" % row for row in rows])  # noqa: UP031
    if _plain(text, len(rows), 4):
        return text
    esc = _copy_value
    return "".join([f"{esc(s)}\t{p:d}\t{esc(o)}\t{v:d}\n" for s, p, o, v in rows])
