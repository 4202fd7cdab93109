"""A record's saved states as bytes, to keep in the database (service/adapters/saved_states.py)
and read back after a restart: what a cold page as of an instant uses of the record's last
whole check (service/records/instant_page.py), no more.

What is kept of a `Checked`: each event's position, stream, version, recorded time and
seal, the projected documents every `STEP` events, and the directory's documents the
projection read. Not the verdict, the streams' checks or the Merkle log's findings: the
reader checks every event it shows again, and uses a state only over events whose seals,
read now, are these (`instant_page._kept`). A state whose documents would not read back
equal (a value msgpack cannot carry as it is) is not kept.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from projections.core import Doc
from service.adapters.saved_states import SavedStates
from service.logs import get_logger
from service.records.record_cache import Checked
from service.records.whole_checks import INLINE_UP_TO

log = get_logger(__name__)

VERSION = 1
"""The layout below; a row of another layout is not read (the next whole check replaces it)."""
AT_LEAST = INLINE_UP_TO
"""Records shorter than this are checked whole before any page (whole_checks.py): nothing
to save for them."""


class _Saved(msgspec.Struct, array_like=True):
    """The layout: typed, so that msgspec makes the UUIDs and times itself (a first
    opening after a restart reads 5,000-10,000 of each)."""

    version: int
    subject: str
    positions: list[int]
    stamps: list[datetime]
    streams: list[UUID]
    versions: list[int]
    seals: list[bytes | None]
    checkpoints: list[tuple[int, list[tuple[str, str, Any]]]]
    directory: list[tuple[str, str, Any]]


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Saved).decode


def _keyed(docs: dict[tuple[str, str], Any]) -> list[tuple[str, str, Any]]:
    return [(kind, key, doc) for (kind, key), doc in docs.items()]


def _unkeyed(rows: list[tuple[str, str, Any]]) -> dict[tuple[str, str], Any]:
    return {(kind, key): doc for kind, key, doc in rows}


def encode(subject: str, checked: Checked) -> bytes | None:
    """The saved states of `checked` (None: they would not read back as they are)."""
    if not checked.seals or not checked.checkpoints:
        return None
    body = _encode(
        _Saved(
            version=VERSION,
            subject=subject,
            positions=checked.positions,
            stamps=checked.stamps,
            streams=checked.streams,
            versions=checked.versions,
            seals=checked.seals,
            checkpoints=[(i, _keyed(m)) for i, m in checked.checkpoints.items()],
            directory=_keyed(checked.directory),
        )
    )
    back = decode(subject, body)
    # The documents compared by their reprs, not ==: a tuple read back as a list, or a time
    # read back in UTC, is equal but would not be sent as the full path sends it.
    if (
        back is None
        or repr(back.checkpoints) != repr(checked.checkpoints)
        or repr(back.directory) != repr(checked.directory)
        or back.stamps != checked.stamps
        or back.streams != checked.streams
    ):
        return None
    return body


def decode(subject: str, body: bytes) -> Checked | None:
    """A `Checked` holding only saved states (for `RecordCache.saved`; None: not ours)."""
    try:
        found = _decode(body)
    except msgspec.DecodeError:  # also a row of another layout
        return None
    if found.version != VERSION or found.subject != subject:
        return None
    lengths = {len(found.positions), len(found.stamps), len(found.streams), len(found.versions)}
    if lengths != {len(found.seals)}:
        return None
    checkpoints: dict[int, dict[tuple[str, str], Doc]] = {
        i: _unkeyed(m) for i, m in found.checkpoints
    }
    return Checked(
        entries=(),
        positions=found.positions,
        stamps=found.stamps,
        streams=found.streams,
        versions=found.versions,
        of_stream={},
        stream_order=[],
        checks={},
        logged={},
        checkpoints=checkpoints,
        final={},
        checked_at=found.stamps[-1] if found.stamps else datetime.min,
        monotonic=-math.inf,
        seals=found.seals,
        directory=_unkeyed(found.directory),
    )


class KeptInStore:
    """`RecordCache.keeper` over a table of saved states (service/adapters/saved_states.py):
    a long record's last whole check written as it is made (by the background worker),
    read when a page finds none in memory (the first opening since the process started)."""

    def __init__(self, store: SavedStates, at_least: int = AT_LEAST) -> None:
        self.store, self.at_least = store, at_least

    def load(self, subject: str) -> Checked | None:
        try:
            body = self.store.load(subject)
        except Exception:  # a page is answered without it, as before
            log.warning("saved_state_unread", subject_kind=subject.partition(":")[0], exc_info=True)
            return None
        return None if body is None else decode(subject, body)

    def save(self, subject: str, checked: Checked) -> None:
        if len(checked.positions) < self.at_least:
            return
        body = encode(subject, checked)
        if body is None:
            log.warning("saved_state_not_kept", subject_kind=subject.partition(":")[0])
            return
        try:
            self.store.save(subject, body, time.time())
        except Exception:  # the check stands; only the next restart pays
            log.warning(
                "saved_state_unsaved", subject_kind=subject.partition(":")[0], exc_info=True
            )
