"""Recording a sender's outcome so it is never lost: the outbox dispatcher and the ARC
sender both run a use case off the loop and, while the store cannot take it, try again
with backoff for as long as it takes. A use case that refuses (another process recorded
the result first) is an answer, not a fault: it is logged and the caller gets None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from service.domain.errors import DomainError
from service.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

FIRST_RETRY = 0.2
"""The first wait after the store failed; doubled after each failure up to the limit."""


class Recorder:
    """`refused` and `failed` are the log lines' event names (each sender keeps its own);
    `retry_max` is the longest wait between two tries while the store is down."""

    def __init__(self, *, refused: str, failed: str, retry_max: float) -> None:
        self.refused = refused
        self.failed = failed
        self.retry_max = retry_max

    async def __call__(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """`command(*args, **kwargs)` in a thread, until the store takes it; None if refused."""
        delay = FIRST_RETRY
        while True:
            try:
                return await asyncio.to_thread(command, *args, **kwargs)
            except DomainError as exc:
                log.warning(self.refused, reason=str(exc))
                return None
            except Exception:
                log.exception(self.failed, command=getattr(command, "__name__", "?"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
