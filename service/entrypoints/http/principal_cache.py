"""Who a bearer token names, remembered briefly: bounded in entries and in bytes.

Anyone can send a made-up token (issue 16: 20,000 random 8 KB tokens grew the process by
150 MB, never released). So a token is kept as its SHA-256 (32 bytes, whatever was sent),
the cache holds at most `entries` (least recently used out first), a token longer than any
we issue is refused before any lookup, and an entry lives `seconds`: a revoked token is
refused by a running service within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from service.domain.people.access import Principal

MAX_TOKEN_LENGTH = 128
"""Issued tokens are `lw_` + 43 characters; room for other issuers' longer ones."""


class PrincipalCache:
    def __init__(
        self,
        entries: int = 5000,
        seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries = entries
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._found: OrderedDict[bytes, tuple[float, Principal | None]] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str) -> tuple[bool, Principal | None]:
        """(known, principal): unknown means look it up; known with None means refused."""
        key = self.key(token)
        with self._lock:
            hit = self._found.get(key)
            if hit is None or hit[0] < self._clock():
                return False, None
            self._found.move_to_end(key)
            return True, hit[1]

    def put(self, token: str, principal: Principal | None) -> None:
        with self._lock:
            self._found[self.key(token)] = (self._clock() + self._seconds, principal)
            self._found.move_to_end(self.key(token))
            while len(self._found) > self._entries:
                self._found.popitem(last=False)

    def forget(self, username: str) -> None:
        """Drop every token of a user just disabled or changed, and every refusal (one may be
        theirs, now enabled again): each is looked up afresh on its next use."""
        with self._lock:
            for key in [k for k, (_, p) in self._found.items() if not p or p.username == username]:
                del self._found[key]

    def __len__(self) -> int:
        return len(self._found)
