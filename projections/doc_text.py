"""A view document's stored text (`dumps`): one encoding for rebuild, catch-up and live
writes alike, so their texts are equal byte for byte; the API writes its answers with it
too. Out of projections/store.py, which holds where the documents live."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a view document")


_encode = msgspec.json.Encoder(enc_hook=_json_default).encode
_json_encode = json.JSONEncoder(default=_json_default, separators=(",", ":")).encode


def dumps(doc: dict[str, Any]) -> str:
    """A document's stored text: msgspec's JSON (a twentieth of the standard library's CPU,
    and every view write makes one), the standard library's where the two would read back
    differently. Rebuild, catch-up and live write through here alike, so their texts are
    equal byte for byte; readers parse the text (json.loads, `doc::jsonb`, json_extract),
    so texts written before (ASCII escapes, `1e+16`) read the same.

    Where they differ: a timezone-aware UTC datetime is `...Z` to msgspec and `...+00:00`
    to `isoformat` (the text's `Z"` sends the document the standard library's way, so a
    datetime reads as it always did); text msgspec cannot encode (a lone surrogate) goes
    that way too. A non-finite float, which the standard library wrote as `NaN` (not
    JSON: PostgreSQL's `doc::jsonb` refused the document), is now `null`; the gateway
    refuses non-finite numbers from devices (device_gateway/fields.py `storable`).
    """
    try:
        text = _encode(doc)
    except (TypeError, ValueError):
        return _json_encode(doc)
    if b'Z"' in text:
        return _json_encode(doc)
    return text.decode()


def dumps_holding(doc: dict[str, Any], instant: datetime) -> str:
    """`dumps(doc)` for a document holding `instant` as one of its values (an export's
    `exported_at`). An instant told with a zero offset is `...Z"` to msgspec, so `dumps`
    ends with the standard library's text whatever the rest holds: made here without
    msgspec's text first (a 10,000-event record's JSON export, 25 MB: 17-59 ms of CPU
    thrown away; docs/performance.md, export13)."""
    if instant.utcoffset() == timedelta(0):
        return _json_encode(doc)
    return dumps(doc)
