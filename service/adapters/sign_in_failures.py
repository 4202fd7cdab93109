"""Failed sign-ins counted in the store, so that every process refuses the same guesses.

Each process keeps its own sign-in limits in memory (service/domain/people/sign_in_limits.py),
which is enough for one process. Behind a load balancer with several processes, each would
allow its own five wrong passwords per name and address: N processes, N times the guesses.
So the failures are also written to PostgreSQL (`lw_sign_in_failures`, times on the
database's clock) and every attempt is checked against all of them, by the same rule
(`SignInLimits` itself, fed the stored failures). How many passwords one address has being
checked at once stays per process: it protects that process's own password pool.

SQLite is one process: no shared table (`open_sign_in_failures` gives None).
"""

from __future__ import annotations

from typing import Any, Final

from service.adapters.postgres_pool import small_pool
from service.domain.people.sign_in_limits import (
    ADDRESS_WINDOW,
    PAIR_WINDOW,
    Limited,
    SignInLimits,
    client_key,
    name_key,
)

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS lw_sign_in_failures ("
    " client TEXT NOT NULL, name TEXT, at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS lw_sign_in_failures_client ON lw_sign_in_failures (client, at)",
)
_KEPT_SECONDS: Final = max(PAIR_WINDOW, ADDRESS_WINDOW)


class SignInFailures:
    """The stored failures; blocking calls (run them in a pool, as the password check is)."""

    def __init__(self, url: str) -> None:
        self._pool = small_pool(url, timeout=2, schema=_SCHEMA)

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def check(self, address: str | None, username: str) -> Limited | None:
        """The rule of `SignInLimits`, over every process's failures from this address."""
        rows = self._run(
            "SELECT name, extract(epoch FROM at), extract(epoch FROM now())"
            " FROM lw_sign_in_failures WHERE client = %s"
            " AND at > now() - make_interval(secs => %s) ORDER BY at",
            (client_key(address), _KEPT_SECONDS),
        )
        if not rows:
            return None
        limits = SignInLimits()
        for name, at, _ in rows:
            if name is None:
                limits.turned_away(address, float(at))
            else:
                limits.failed(address, str(name), float(at))
        return limits.check(address, username, float(rows[0][2]))

    def failed(self, address: str | None, username: str) -> None:
        self._run(
            "INSERT INTO lw_sign_in_failures (client, name) VALUES (%s, %s)",
            (client_key(address), name_key(username)),
        )
        # Forget what no window looks at any more (cheap: the index is by client and time).
        self._run(
            "DELETE FROM lw_sign_in_failures WHERE client = %s"
            " AND at < now() - make_interval(secs => %s)",
            (client_key(address), _KEPT_SECONDS),
        )

    def turned_away(self, address: str | None) -> None:
        """No password check was free: counts against the address, not a name."""
        self._run("INSERT INTO lw_sign_in_failures (client) VALUES (%s)", (client_key(address),))

    def succeeded(self, address: str | None, username: str) -> None:
        """The right password clears that name's count from that address, not the address's
        own (as in memory): its failures stay, counted against the address only."""
        self._run(
            "UPDATE lw_sign_in_failures SET name = NULL WHERE client = %s AND name = %s",
            (client_key(address), name_key(username)),
        )

    def close(self) -> None:
        self._pool.close()


def open_sign_in_failures(database_url: str) -> SignInFailures | None:
    if database_url.startswith(("postgresql://", "postgres://")):
        return SignInFailures(database_url)
    return None
