"""Another process recorded something: PostgreSQL tells us (LISTEN), and the views catch up.

eventsourcing sends `NOTIFY <events table>` with every insert. A process that did not
make the commit would otherwise learn of it at its next poll of the notification log
(`LW_POLL_INTERVAL`, 0.5 s): with several processes, an SOS recorded by one reaches the
holder of the outbox that late. Listening, it is woken within milliseconds.

SQLite is one process: every commit is local and wakes the views itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from service.logs import get_logger

log = get_logger(__name__)

BEAT_EVERY = 5.0
"""The listening loop beats at least this often with no commits to hear of."""


class Beat(Protocol):
    def beat(self) -> None: ...


class StoreNotices:
    """Listens on the events table's channel and calls `on_notice` (threadsafe or on the
    loop: it is called on the loop) for each burst of commits."""

    def __init__(self, url: str, channel: str, on_notice: Callable[[], None]) -> None:
        self.url = url
        self.channel = channel
        self.on_notice = on_notice
        self.heard = 0

    async def run(self, state: Beat) -> None:
        """The supervised loop: a lost connection raises, and the supervisor starts it again
        (meanwhile the views still poll)."""
        import psycopg
        from psycopg import sql

        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=3
        ) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            state.beat()
            while True:
                async for _ in conn.notifies(timeout=BEAT_EVERY, stop_after=1):
                    self.heard += 1
                    self.on_notice()
                state.beat()
                await asyncio.sleep(0)


def notices_for(
    database_url: str, recorder: object, on_notice: Callable[[], None]
) -> StoreNotices | None:
    """A listener for the store's commits, or None where there is nothing to listen to."""
    channel = getattr(recorder, "channel_name", None)
    if not database_url.startswith(("postgresql://", "postgres://")) or not channel:
        return None
    return StoreNotices(database_url, str(channel), on_notice)
