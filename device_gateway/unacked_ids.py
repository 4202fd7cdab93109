"""The messages a connection delivered and the gateway has not yet acknowledged, by packet id.

An ack for anything else (a message from a previous connection, or a second ack of the
same one) is dropped: the broker redelivers the former, and the packet id of the latter may
already name another message. A count, not a set: Mosquitto 2.0 numbers the messages it
queues for a client when it queues them, so past 65,535 queued (a flood faster than the
store) it sends a second message under an id still in flight. Each was delivered and is
acknowledged after its own commit; a set took the second ack for a stale one (~1 in 3
messages in a 30,000/s flood: one log line each, and that message left in flight at the
broker until the session resumed). Split from mqtt_link.py.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from typing import Any


class UnackedIds:
    """Hold `lock` while taking ids and writing their acks: a reconnect's `cleared` must not
    come between, or an ack taken for the old connection would go out on the new one."""

    def __init__(self, stats: MutableMapping[str, int], log: Any) -> None:
        self.lock = threading.Lock()
        self._waiting: dict[int, int] = {}
        self._stats = stats
        self._log = log

    def delivered(self, mid: int) -> None:
        with self.lock:
            self._waiting[mid] = self._waiting.get(mid, 0) + 1

    def cleared(self) -> None:
        """A new connection: nothing delivered before it may be acknowledged on it."""
        with self.lock:
            self._waiting.clear()

    def take(self, mid: int) -> bool:
        """Under `lock`: take one message under `mid` off the unacknowledged ones, or count
        (`stale_acks`) and log why none is there (a PUBACK for it would acknowledge someone
        else's message)."""
        waiting = self._waiting.get(mid, 0)
        if not waiting:
            self._stats["stale_acks"] += 1
            self._log.info(
                "mqtt_ack_skipped",
                mid=mid,
                why="acknowledged already, or delivered on an earlier connection",
            )
            return False
        if waiting == 1:
            del self._waiting[mid]
        else:
            self._waiting[mid] = waiting - 1
        return True
