"""Following the event store: read what is new since the views' position, apply it, commit.

Synchronous and safe to run from several places at once (the server and a CLI
replay): the view store refuses a batch whose starting position has moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper

from projections.store import DocWrite, IndexEntry, ViewConflict, ViewStore
from projections.views import FILTER_COLUMNS, Doc, event_name, project

VIEW_NAME = "lonewatch-views"


@dataclass(frozen=True)
class Change:
    """A document as it stands after an event; fed to the live stream and the dispatcher."""

    kind: str
    doc: Doc
    event: str
    position: int


class Projector:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        store: ViewStore,
        *,
        batch_size: int = 1000,
        name: str = VIEW_NAME,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.store = store
        self.batch_size = batch_size
        self.name = name

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def position(self) -> int:
        return self.store.position(self.name)

    def catch_up_once(self) -> list[Change]:
        """Apply at most one batch; returns what changed (empty when up to date)."""
        start = self.store.position(self.name)
        notifications = self.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return []
        pending: dict[tuple[str, str], Doc] = {}

        def read(kind: str, doc_id: str) -> Doc | None:
            key = (kind, doc_id)
            if key not in pending:
                found = self.store.get(kind, doc_id)
                if found is None:
                    return None
                pending[key] = found
            return pending[key]

        changes: list[Change] = []
        index: list[IndexEntry] = []
        touched: dict[tuple[str, str], None] = {}
        for notification in notifications:
            event: Any = self.mapper.to_domain_event(notification)
            effects = project(event, read)
            name = event_name(event)
            for key, doc in effects.docs.items():
                pending[key] = doc
                touched[key] = None
                changes.append(Change(key[0], doc, name, notification.id))
            index.extend(
                IndexEntry(subject, notification.id, str(event.originator_id), event.originator_version)
                for subject in effects.subjects
            )
        writes = []
        for kind, doc_id in touched:
            doc = pending[(kind, doc_id)]
            school_field, state_field = FILTER_COLUMNS.get(kind, (None, None))
            writes.append(
                DocWrite(
                    kind=kind,
                    id=doc_id,
                    school=str(doc.get(school_field)) if school_field and doc.get(school_field) else None,
                    state=str(doc.get(state_field)) if state_field and doc.get(state_field) else None,
                    doc=doc,
                )
            )
        self.store.commit(
            self.name, expected=start, position=notifications[-1].id, docs=writes, index=index
        )
        return changes

    def catch_up(self, max_batches: int = 1_000_000) -> list[Change]:
        """Apply everything new; a conflicting writer means someone else applied it: read on."""
        changes: list[Change] = []
        for _ in range(max_batches):
            try:
                batch = self.catch_up_once()
            except ViewConflict:
                continue
            if not batch and self.store.position(self.name) >= self.head():
                break
            changes.extend(batch)
        return changes
