"""Leases: which process sends the notifications and which fires the timers.

Several `lonewatch serve` processes may share one PostgreSQL store; each would otherwise
run its own dispatcher and scheduler, and a retry meant to wait 4 s could be made at once
by a second process that saw the notification waiting. A lease names one holder per role
("outbox", "timers"): a row in `lw_leases` with the holder, a fencing token and an
expiry on the database's clock (one clock for every process). The holder renews it every
second or so; when it dies, the row expires and the next process to ask takes it with the
token raised by one.

Why a lease row and not a session advisory lock: an advisory lock lives as long as its
connection, so a process that is stuck (a stalled VM, a thread wedged) but connected
keeps it for ever, and a pooler in transaction mode loses it; a lease expires by itself,
its token says which term a write belongs to, and its row is what health shows.

A process restarted after a crash (SIGKILL, OOM; systemd starts it again at once) would
wait out its dead predecessor's lease: up to `LEASE_SECONDS`, during which no timer fires
and no SOS text is sent (chaos `service-kill`: 2-6 ladder steps and the first SOS ~2 s
late). So a holder that ran on this host and whose process is gone (`holder_gone`: same
host name and pid namespace, its pid no longer running) is replaced at once, in a new term. Only on proof:
a holder on another host, or a pid still running (or reused), is waited out as before,
and the fencing token still refuses any write from the old term.

A holder counts its lease as lost `SAFETY_MARGIN` before the database would let another
take it (measured from before the renewal was sent, on its own monotonic clock), so two
holders never both believe they hold it unless clocks run at very different rates.

SQLite is one process: `LocalLeases` holds every lease, always.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from structlog import get_logger

from service.adapters.postgres_pool import small_pool

log = get_logger(__name__)

LEASE_SECONDS: Final = 3.0
"""How long a lease lasts without renewal: a dead holder is replaced within about this
long plus one renewal round."""
RENEW_EVERY: Final = 0.5
"""How often a holder renews (and a process without the lease asks for it)."""
SAFETY_MARGIN: Final = 0.5
"""The holder stops this long before its lease could be taken by another."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS lw_leases ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,"
    " acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL)"
)
# One statement: take a free or expired lease (a new term: token + 1), or renew our own
# unexpired one (same term). Concurrent askers are serialised on the row; one wins.
_HOLD: Final = (
    "INSERT INTO lw_leases AS l (name, holder, token, acquired_at, expires_at)"
    " VALUES (%(name)s, %(holder)s, 1, now(), now() + make_interval(secs => %(ttl)s))"
    " ON CONFLICT (name) DO UPDATE SET"
    "  token = CASE WHEN l.holder = excluded.holder AND l.expires_at > now()"
    "               THEN l.token ELSE l.token + 1 END,"
    "  acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > now()"
    "                     THEN l.acquired_at ELSE now() END,"
    "  holder = excluded.holder,"
    "  expires_at = excluded.expires_at"
    " WHERE l.holder = excluded.holder OR l.expires_at <= now()"
    " RETURNING token"
)
# Take a live lease from a holder proven gone (`holder_gone`): a new term, only if the row
# still names that holder (another process may have taken it meanwhile).
_TAKE_FROM_GONE: Final = (
    "UPDATE lw_leases SET holder = %(holder)s, token = token + 1, acquired_at = now(),"
    " expires_at = now() + make_interval(secs => %(ttl)s)"
    " WHERE name = %(name)s AND holder = %(gone)s"
    " RETURNING token"
)
_HOLDER: Final = "SELECT holder FROM lw_leases WHERE name = %(name)s"
_RELEASE: Final = (
    "UPDATE lw_leases SET expires_at = now()"
    " WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s"
)
_FENCE: Final = (
    "SELECT 1 FROM lw_leases WHERE name = %(name)s AND holder = %(holder)s"
    " AND token = %(token)s AND expires_at > now()"
)
_ALL: Final = (
    "SELECT name, holder, token, acquired_at, extract(epoch FROM expires_at - now())"
    " FROM lw_leases ORDER BY name"
)


@dataclass(frozen=True)
class LeaseRow:
    """A lease as the store has it, for health: who holds it, in which term."""

    name: str
    holder: str
    token: int
    acquired_at: str
    expires_in: float
    """Seconds until it expires unless renewed (negative: expired, free to take)."""


class Leases(Protocol):
    """The port: hold, check, give up and list leases by name, for this process (`holder`)."""

    holder: str
    ttl: float
    """Seconds a lease lasts without renewal (infinite for one process)."""

    def hold(self, name: str) -> int | None:
        """Take or renew `name`; its token (the term) when this process holds it, else None."""
        ...

    def still_holds(self, name: str, token: int) -> bool:
        """Asked of the store just before a fenced step: is `token` still the live term?"""
        ...

    def release(self, name: str, token: int) -> None:
        """Give it up now (a clean stop), so another takes it at its next round."""
        ...

    def rows(self) -> list[LeaseRow]: ...

    def close(self) -> None: ...


def this_host() -> str:
    """The host part of a holder's name: the host name and, where Linux says, the process
    id namespace (`vm/4026531836`). Two containers on one machine may share a host name
    (host networking) but never a pid namespace: each would otherwise find the other's pid
    free in its own and take its leases every round."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:  # not Linux: the host name alone
        return socket.gethostname()
    return f"{socket.gethostname()}/{namespace}"


def holder_name(http_addr: str) -> str:
    """Which process: host (with its pid namespace), pid and HTTP address, as an operator
    would look for it."""
    return f"{this_host()}:{os.getpid()}:{http_addr}"


def holder_gone(holder: str) -> bool:
    """Is `holder` (a `holder_name`) proven dead: it ran on this host, in this pid
    namespace, and no process has its pid now? Anything short of proof (another host or
    namespace, a pid that answers, even one reused by another program, or this very
    process) is taken as alive, so its lease is waited out. A SIGKILLed process not yet
    reaped by its parent still answers (a zombie): waited out too."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != this_host() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: a process of another user has that pid
        return False
    return False


class LocalLeases:
    """One process (SQLite): it holds every lease, in term 1, for ever."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.ttl = float("inf")
        self._since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._held: set[str] = set()

    def hold(self, name: str) -> int:
        self._held.add(name)
        return 1

    def still_holds(self, name: str, token: int) -> bool:
        return token == 1

    def release(self, name: str, token: int) -> None:
        self._held.discard(name)

    def rows(self) -> list[LeaseRow]:
        return [LeaseRow(n, self.holder, 1, self._since, float("inf")) for n in sorted(self._held)]

    def close(self) -> None:
        pass


class PostgresLeases:
    """Leases in the store's own PostgreSQL database (table `lw_leases`)."""

    def __init__(
        self,
        url: str,
        holder: str,
        *,
        ttl: float = LEASE_SECONDS,
        gone: Callable[[str], bool] = holder_gone,
    ) -> None:
        self.holder = holder
        self.ttl = ttl
        self._gone = gone
        # Its own small pool: a renewal must not wait behind a burst of writes for a
        # connection, or the lease lapses while the holder is busy and healthy.
        self._pool = small_pool(url, timeout=1, schema=[_SCHEMA])

    def _one(self, sql: str, params: dict[str, Any]) -> Any:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone() if cur.description else None

    def hold(self, name: str) -> int | None:
        params = {"name": name, "holder": self.holder, "ttl": self.ttl}
        row = self._one(_HOLD, params)
        if row:
            return int(row[0])
        found = self._one(_HOLDER, params)
        if found is None or not self._gone(str(found[0])):
            return None
        row = self._one(_TAKE_FROM_GONE, params | {"gone": found[0]})
        if row is None:
            return None
        log.warning("lease_taken_from_gone_holder", lease=name, gone=found[0], term=row[0])
        return int(row[0])

    def still_holds(self, name: str, token: int) -> bool:
        return self._one(_FENCE, {"name": name, "holder": self.holder, "token": token}) is not None

    def release(self, name: str, token: int) -> None:
        self._one(_RELEASE, {"name": name, "holder": self.holder, "token": token})

    def rows(self) -> list[LeaseRow]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(_ALL)
            found = cur.fetchall()
        return [
            LeaseRow(str(n), str(h), int(t), a.isoformat(), round(float(e), 3))
            for n, h, t, a, e in found
        ]

    def close(self) -> None:
        self._pool.close()


def open_leases(database_url: str, holder: str) -> Leases:
    if database_url.startswith("sqlite:///"):
        return LocalLeases(holder)
    return PostgresLeases(database_url, holder)
