"""PostgreSQL's side of the growth benchmark: what the store's server did for a burst.

The service's CPU (from /proc) leaves out PostgreSQL's, and on a grown store the wall
clock can go there. So around each burst this reads, for the run's own database only:
its backends' CPU (from /proc, by the pids `pg_stat_activity` names), its commits, the
blocks it found in shared_buffers and those it had to read, the rows its tables gave to
sequential scans (a query that scans a table grows with the data), and the server's WAL
written meanwhile (every database's: the server is shared). `analyse` does what autovacuum would do over the days a real store takes to grow:
this machine's PostgreSQL runs with autovacuum off, so a store grown in minutes is never
analysed and the planner still sees the table it was at 10,000 rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.ingest import cpu_seconds

STATS_FLUSH = 1.5
"""PostgreSQL 15 publishes a backend's table counters within a second of its transaction."""


@dataclass(frozen=True)
class PgSample:
    at: float
    cpu: dict[int, float]
    commits: int
    seq_rows: dict[str, int] = field(default_factory=dict)
    blocks_read: int = 0
    """Blocks this database's backends had to read (not in shared_buffers)."""
    blocks_hit: int = 0
    wal_bytes: int = 0
    """The server's WAL position: every database's writes, not only this run's."""


def sample(url: str) -> PgSample:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            int(r[0])
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
        row = conn.execute(
            "SELECT xact_commit, blks_read, blks_hit, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        seq = conn.execute("SELECT relname, COALESCE(seq_tup_read, 0) FROM pg_stat_user_tables")
        seq_rows = {str(name): int(count) for name, count in seq.fetchall()}
    cpu: dict[int, float] = {}
    for pid in pids:
        try:
            cpu[pid] = cpu_seconds(pid)
        except OSError:  # gone since the query
            continue
    commits, read, hit, wal = (int(v) for v in row) if row else (0, 0, 0, 0)
    return PgSample(time.monotonic(), cpu, commits, seq_rows, read, hit, wal)


def settled_sample(url: str) -> PgSample:
    """A sample once the counters of what just finished are published."""
    time.sleep(STATS_FLUSH)
    return sample(url)


def difference(before: PgSample, after: PgSample, events: int) -> dict[str, Any]:
    """Backends' CPU per event (a backend that came and went in between is missed), commits,
    and the tables that were scanned whole (rows read by sequential scans, per event)."""
    cpu = sum(
        after.cpu[pid] - before.cpu.get(pid, 0.0) for pid in after.cpu if pid in before.cpu
    ) + sum(after.cpu[pid] for pid in after.cpu if pid not in before.cpu)
    scanned = {
        name: after.seq_rows[name] - before.seq_rows.get(name, 0)
        for name in after.seq_rows
        if after.seq_rows[name] > before.seq_rows.get(name, 0)
    }
    per = max(1, events)
    return {
        "postgres_cpu_us_per_event": round(cpu / per * 1e6, 1),
        "commits": after.commits - before.commits,
        "blocks_read_per_event": round((after.blocks_read - before.blocks_read) / per, 2),
        "blocks_hit_per_event": round((after.blocks_hit - before.blocks_hit) / per, 1),
        "server_wal_bytes_per_event": round((after.wal_bytes - before.wal_bytes) / per),
        "seq_scan_rows_per_event": {
            name: round(rows / per, 1)
            for name, rows in sorted(scanned.items(), key=lambda kv: -kv[1])[:5]
        },
    }


def analyse(url: str) -> float:
    """VACUUM (ANALYZE) the run's database, as autovacuum would have; seconds taken."""
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - t0
