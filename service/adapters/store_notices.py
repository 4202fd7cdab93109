"""Another process recorded something: PostgreSQL tells us (LISTEN), and the views catch up.

eventsourcing sends `NOTIFY <events table>` with every insert. A process that did not
make the commit would otherwise learn of it at its next poll of the notification log
(`LW_POLL_INTERVAL`, 0.5 s): with several processes, an SOS recorded by one reaches the
holder of the outbox that late. Listening, it is woken within milliseconds.

An alarm's notifications are also handed straight to the process that sends them
(`hand_over`, channel `lw_outbox`): through the views they would wait for the views to
catch up, which under a heartbeat flood is seconds behind the store. If the hand-over is
lost (the holder dies that moment), the views still bring them to whoever holds the outbox.

SQLite is one process: every commit is local and wakes the views itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

from service.logs import get_logger

log = get_logger(__name__)

HAND_OVER: Final = "lw_outbox"
"""The channel an alarm's notifications are handed over on (payload: JSON list of them)."""
MAX_PAYLOAD: Final = 7_900
"""PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more: larger lists go in parts."""
BEAT_EVERY = 5.0
"""The listening loop beats at least this often with no commits to hear of."""


class Beat(Protocol):
    def beat(self) -> None: ...


class StoreNotices:
    """Listens on the events table's channel and calls `on_notice` (on the loop) for each
    commit another process made, and `on_hand_over` with each list of notifications
    handed over on `HAND_OVER`."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_notice: Callable[[], None],
        on_hand_over: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.url = url
        self.channel = channel
        self.on_notice = on_notice
        self.on_hand_over = on_hand_over
        self.heard = 0
        self.handed = 0
        self._sender: Any = None
        self._lock = threading.Lock()

    async def run(self, state: Beat) -> None:
        """The supervised loop: a lost connection raises, and the supervisor starts it again
        (meanwhile the views still poll)."""
        import psycopg
        from psycopg import sql

        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=3
        ) as conn:
            for channel in (self.channel, HAND_OVER):
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            state.beat()
            while True:
                async for notice in conn.notifies(timeout=BEAT_EVERY, stop_after=1):
                    if notice.channel == HAND_OVER:
                        self._handed_over(notice.payload)
                    else:
                        self.heard += 1
                        self.on_notice()
                state.beat()
                await asyncio.sleep(0)

    def _handed_over(self, payload: str) -> None:
        if self.on_hand_over is None:
            return
        try:
            docs = json.loads(payload)
        except ValueError:
            log.warning("hand_over_unreadable", chars=len(payload))
            return
        self.handed += len(docs)
        self.on_hand_over(docs)

    def hand_over(self, docs: list[dict[str, Any]]) -> None:
        """Blocking: tell whoever holds the outbox to send these now (one NOTIFY per part)."""
        import psycopg

        parts: list[list[dict[str, Any]]] = [[]]
        for doc in docs:
            if parts[-1] and len(json.dumps([*parts[-1], doc])) > MAX_PAYLOAD:
                parts.append([])
            parts[-1].append(doc)
        with self._lock:
            for attempt in (1, 2):  # once more on a fresh connection if the old one died
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
                    for part in parts:
                        self._sender.execute(
                            "SELECT pg_notify(%s, %s)", (HAND_OVER, json.dumps(part))
                        )
                    return
                except psycopg.OperationalError:
                    self._sender = None
                    if attempt == 2:
                        raise

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None


def notices_for(
    database_url: str,
    recorder: object,
    on_notice: Callable[[], None],
    on_hand_over: Callable[[list[dict[str, Any]]], None] | None = None,
) -> StoreNotices | None:
    """A listener for the store's commits, or None where there is nothing to listen to."""
    channel = getattr(recorder, "channel_name", None)
    if not database_url.startswith(("postgresql://", "postgres://")) or not channel:
        return None
    return StoreNotices(database_url, str(channel), on_notice, on_hand_over)
