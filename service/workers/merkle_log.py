"""The loop that keeps the Merkle log up with the event store and signs its heads.

It follows the store after the fact, on its own thread, so no save waits for a hash
(the gateway hands over what it committed, so those events are not read back):
an SOS is committed and sent on as before, and its leaf is appended within one poll.
A head is signed every `LW_SIGNING_INTERVAL` seconds when events were recorded since
the last one, and logged (`tree_head_signed`), so a copy of every head leaves the
machine with the logs: a later head can then be checked against it (`lonewatch verify
--since`), even by someone who could rewrite the database and its heads table.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from service.adapters.merkle_log import MerkleLog
from service.adapters.signing import SigningKey
from service.clock import Clock
from service.logs import get_logger
from service.workers.supervisor import LoopState

log = get_logger(__name__)

APPEND_INTERVAL = 1.0
PAGES_PER_ROUND = 25
"""A first start over a large store appends in rounds of at most this many pages, beating
between them, so health sees a loop at work rather than one stuck."""


@dataclass
class MerkleLogWorker:
    merkle: MerkleLog
    clock: Clock
    key: SigningKey | None
    sign_every: float = 60.0
    append_every: float = APPEND_INTERVAL

    def round(self, *, sign: bool) -> None:
        """Append what the store has that the log has not; sign a head when asked.

        What the gateway handed over since the last round goes first, without a read;
        when there was none, or it did not continue where the log ends, the store is read.
        """
        if self.merkle.append_handed() is None:
            for _ in range(PAGES_PER_ROUND):
                if not self.merkle.append_new().leaves:
                    break
        if sign and self.key is not None:
            head = self.merkle.sign(self.key, int(self.clock.now().timestamp() * 1000))
            if head is not None:
                log.info("tree_head_signed", **head.to_json())

    async def run(self, state: LoopState) -> None:
        last_signed = time.monotonic()
        while True:
            due = time.monotonic() - last_signed >= self.sign_every
            await asyncio.to_thread(self.round, sign=due)
            if due:
                last_signed = time.monotonic()
            state.beat()
            await asyncio.sleep(self.append_every)
