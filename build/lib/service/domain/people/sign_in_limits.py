"""Who may try a password now: limits by client address and username together, and per address.

Locking a name after five wrong passwords from anywhere lets anyone lock a receptionist
out of the console. So wrong passwords count against the pair (address, name): a flood
from one address shuts that address out of that name, and the real user signing in from
her own address is not touched. An address whose attempts fail many times (wrong
passwords, or turned away because every password check was busy), whatever the names, is
refused for every name until its window frees up (guessing across names), and
may have only a couple of passwords being checked at once, so that one address cannot
fill the password pool and keep everyone else waiting.
Times are seconds on a monotonic clock the caller passes in.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

PAIR_FAILURES = 5  # wrong passwords for one name from one address ...
PAIR_WINDOW = 300.0  # ... within five minutes
ADDRESS_FAILURES = 30  # failed attempts from one address, any names ...
ADDRESS_WINDOW = 300.0  # ... within five minutes
CHECKS_AT_ONCE = 2  # passwords from one address being checked at the same time
MAX_ENTRIES = 10_000  # per table; the least recently touched are forgotten first


@dataclass(frozen=True)
class Limited:
    """Refused without checking the password; `retry_after` whole seconds from now."""

    scope: Literal["name", "address", "checking"]
    retry_after: int


def client_key(address: str | None) -> str:
    """An IPv4 address as it is; an IPv6 address by its /64, which one home or one machine
    can hold whole (counting per address would give it 2**64 tries)."""
    if not address:
        return "?"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def name_key(username: str) -> str:
    return username.strip().casefold()[:128]


class _Window:
    """Recent failure times per key: a sliding window, bounded in keys."""

    def __init__(self, allowed: int, window: float, max_entries: int) -> None:
        self.allowed, self.window, self.max_entries = allowed, window, max_entries
        self._times: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._times.get(key, ()) if now - t < self.window]
        if times:
            self._times[key] = times
        else:
            self._times.pop(key, None)
        return times

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds until one more failure is allowed, or None if it is allowed now."""
        times = self._recent(key, now)
        if len(times) < self.allowed:
            return None
        frees_at = times[len(times) - self.allowed] + self.window
        return max(1, math.ceil(frees_at - now))

    def add(self, key: str, now: float) -> None:
        self._times.setdefault(key, []).append(now)
        self._times.move_to_end(key)
        while len(self._times) > self.max_entries:
            self._times.popitem(last=False)

    def clear(self, key: str) -> None:
        self._times.pop(key, None)

    def __len__(self) -> int:
        return len(self._times)


class SignInLimits:
    def __init__(
        self,
        *,
        pair_failures: int = PAIR_FAILURES,
        pair_window: float = PAIR_WINDOW,
        address_failures: int = ADDRESS_FAILURES,
        address_window: float = ADDRESS_WINDOW,
        max_entries: int = MAX_ENTRIES,
        checks_at_once: int = CHECKS_AT_ONCE,
    ) -> None:
        self._pairs = _Window(pair_failures, pair_window, max_entries)
        self._addresses = _Window(address_failures, address_window, max_entries)
        self._checks_at_once = checks_at_once
        self._checking: dict[str, int] = {}

    def check(self, address: str | None, username: str, now: float) -> Limited | None:
        """None if this attempt may have its password checked."""
        client = client_key(address)
        wait = self._addresses.retry_after(client, now)
        if wait is not None:
            return Limited("address", wait)
        wait = self._pairs.retry_after(f"{client} {name_key(username)}", now)
        if wait is not None:
            return Limited("name", wait)
        if self._checking.get(client, 0) >= self._checks_at_once:
            return Limited("checking", 1)
        return None

    def checking(self, address: str | None) -> None:
        """A password from `address` is about to be checked; `checked` when it is done."""
        client = client_key(address)
        self._checking[client] = self._checking.get(client, 0) + 1

    def checked(self, address: str | None) -> None:
        client = client_key(address)
        left = self._checking.get(client, 0) - 1
        if left > 0:
            self._checking[client] = left
        else:
            self._checking.pop(client, None)

    def failed(self, address: str | None, username: str, now: float) -> None:
        client = client_key(address)
        self._addresses.add(client, now)
        self._pairs.add(f"{client} {name_key(username)}", now)

    def turned_away(self, address: str | None, now: float) -> None:
        """No password check was free: counts against the address (a flood that keeps the
        pool full is limited like one that guesses), not against the name."""
        self._addresses.add(client_key(address), now)

    def succeeded(self, address: str | None, username: str) -> None:
        """The right password clears that name's count from that address (not the address's
        own count: signing in to an account of one's own must not buy more guesses)."""
        self._pairs.clear(f"{client_key(address)} {name_key(username)}")

    def sizes(self) -> dict[str, int]:
        return {"pairs": len(self._pairs), "addresses": len(self._addresses)}
