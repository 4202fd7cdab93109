"""A subject as it stood at any instant: the states a replay shows after each event.

States are rebuilt from the recorded events alone, by running the same projection
functions the live views use over the subject's events up to the instant. Facts
that change over time (a device's battery, location, counts) come only from those
events; names of schools and people come from the directory as it stands now.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from datetime import datetime
from typing import Any

from projections.core import Doc
from projections.store import ViewStore
from projections.views import project
from service.application.lonewatch import Lonewatch
from service.records.timeline import subject_events

_DIRECTORY_KINDS = frozenset({"school", "staff"})
_DEVICE_FACTS = ("id", "kind", "school", "staff", "staff_name")
_UNREAD: Doc = {}
"""Not read yet (a document read may be None: not in the directory); this very object,
which no view hands out, compared by identity."""


def directory_reader(
    views: ViewStore,
    memory: dict[tuple[str, str], Doc],
    seen: dict[tuple[str, str], Doc | None] | None = None,
) -> Any:
    """`read` for `project`: the subject's own documents from `memory`, the directory's as
    it stands now; `seen` collects the directory's documents read (a saved state is made
    with them: service/records/instant_page.py)."""
    # The directory as it stands now, read once per record: a heartbeat's battery reads its
    # school's threshold, and 10,000 heartbeats were 10,000 queries for the same document.
    # Shared between events as the projector's own cache shares them: views copy before
    # they change a document.
    directory: dict[tuple[str, str], Doc | None] = {} if seen is None else seen

    # Called twice per heartbeat (20,000 times for a record): one key, one look-up each.
    def read(kind: str, doc_id: str) -> Doc | None:
        key = (kind, doc_id)
        own = memory.get(key, _UNREAD)
        if own is not _UNREAD:
            return own
        if kind in _DIRECTORY_KINDS or kind == "device":
            found = directory.get(key, _UNREAD)
            if found is _UNREAD:
                found = directory[key] = directory_doc(views, kind, doc_id)
            return found
        return None

    return read


def directory_doc(views: ViewStore, kind: str, doc_id: str) -> Doc | None:
    """A directory document as a record's projection reads it now."""
    current = views.get(kind, doc_id)
    if kind == "device" and current is not None:
        # What the directory says about it, none of what it later sent.
        current = {k: current[k] for k in _DEVICE_FACTS if k in current}
    return current


def subject_state(subject: str, memory: dict[tuple[str, str], Doc]) -> dict[str, Any]:
    """An alert, device or visit is its own document; a person is the alerts about them."""
    kind, _, key = subject.partition(":")
    if kind != "staff":
        return {kind: memory.get((kind, key))}
    alerts = [d for (k, _), d in memory.items() if k == "alert" and d.get("staff") == key]
    return {"alerts": sorted(alerts, key=lambda d: d["raised_at"])}


def states_after_each(views: ViewStore, subject: str, events: list[tuple[int, Any]]) -> list[Any]:
    """For each event in order, the subject as it stood just after it."""
    return states_within(views, subject, events, range(len(events)))[0]


def states_within(
    views: ViewStore, subject: str, events: list[tuple[int, Any]], page: Container[int]
) -> tuple[list[Any], Any]:
    """The subject as it stood after each event whose index is in `page`, and as it stood
    after the last event (None when there is none). Every event is projected (a state is
    everything before it), but only the page's states are taken: a page of 500 rows out of
    10,000 events pays for 500 snapshots, not 10,000."""
    memory: dict[tuple[str, str], Doc] = {}
    read = directory_reader(views, memory)
    states = []
    for index, (_, event) in enumerate(events):
        memory.update(project(event, read).docs)
        if index in page:
            states.append(subject_state(subject, memory))
    if not events:
        return states, None
    last = len(events) - 1 in page and states
    return states, states[-1] if last else subject_state(subject, memory)


def staff_names(views: ViewStore) -> Callable[[str], str | None]:
    """A staff member's name from the directory, each looked up once per record."""
    known: dict[str, str | None] = {}

    def name(key: str) -> str | None:
        if key not in known:
            doc = views.get("staff", key)
            known[key] = str(doc["name"]) if doc and doc.get("name") else None
        return known[key]

    return name


def state_as_of(
    app: Lonewatch, views: ViewStore, subject: str, as_of: datetime | None
) -> dict[str, Any] | None:
    """The subject as it stood at `as_of` (now, when None); None when nothing was recorded by then."""
    events = subject_events(app, views, subject, as_of=as_of)
    if not events:
        return None
    state: dict[str, Any] = states_after_each(views, subject, events)[-1]
    return state
