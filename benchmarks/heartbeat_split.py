"""Who pays for a heartbeat: the service's views and Merkle log against the rest, and
PostgreSQL's CPU and commits for the views' writes, the Merkle log's and the gateway's.

`heartbeat_profile`'s run (the whole service in this process, its own Mosquitto and
database, a flood of 10,000 heartbeats a second), measured from the flood's start until the
views and the Merkle log have followed every event, with:

- the service's CPU in `LiveViews.follow` and in the Merkle worker's round, each call
  timed by its own thread's CPU clock (the rest is the gateway, paho and the loop);
- each component's transactions, counted as they commit (the views' `ViewStore.commit`,
  the Merkle log's leaf inserts; the rest of the database's commits are the gateway's and
  the library's);
- PostgreSQL's backends' CPU from /proc, by `application_name` (the view store's pool
  names itself `lonewatch-views`; the event store's pool, which the Merkle log shares,
  gets `lonewatch-store` from `PGAPPNAME`);
- with `pg_stat_statements` loaded in the server (`LW_BENCH_POSTGRES_URL` pointing to a
  server started with `shared_preload_libraries = 'pg_stat_statements'`), the statements'
  execution time, calls and rows grouped by the table they write.

    LW_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:55432/postgres \\
        python -m benchmarks.heartbeat_split [--seconds 5] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg

from benchmarks import heartbeat_profile
from benchmarks.common import POSTGRES_ADMIN_URL

os.environ.setdefault("PGAPPNAME", "lonewatch-store")

GROUPS = (
    ("views", ("lw_view_",)),
    ("merkle", ("lw_merkle_",)),
    ("events insert", ("insert into", "lock table")),
)


class Tally:
    """CPU seconds and calls of wrapped functions, on whichever thread they run, and of the
    cycle collector's collections by generation (`gc.callbacks`)."""

    def __init__(self) -> None:
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._collecting = 0.0
        gc.callbacks.append(self._collection)

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        # The collector holds the GIL throughout: one collection at a time.
        if phase == "start":
            self._collecting = time.thread_time()
        else:
            self.cpu[f"gc {info['generation']}"] += time.thread_time() - self._collecting
            self.calls[f"gc {info['generation']}"] += 1

    def wrap(self, owner: Any, name: str, tag: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self._lock:
                    self.cpu[tag] += spent
                    self.calls[tag] += 1

        setattr(owner, name, timed)

    def reset(self) -> None:
        with self._lock:
            self.cpu.clear()
            self.calls.clear()


def _backends(db: str) -> dict[int, str]:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s", (db,)
        ).fetchall()
    return {int(pid): str(name) for pid, name in rows}


def cpu_seconds(pid: int) -> float:
    """A process's CPU so far, to the nanosecond (/proc's schedstat; stat counts 10 ms ticks)."""
    with open(f"/proc/{pid}/schedstat") as schedstat:
        return int(schedstat.read().split()[0]) / 1e9


def _cpu(pids: dict[int, str]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return found


def backend_cpu_of(owner: Any, name: str, tally: Tally, tag: str) -> None:
    """Charge the backend's CPU during each transaction `owner.name()` opens to `tag` (the
    connection is this transaction's alone while it is open)."""
    original: Callable[..., Any] = getattr(owner, name)

    @contextlib.contextmanager
    def measured(*args: Any, **kwargs: Any) -> Any:
        with original(*args, **kwargs) as cur:
            pid = cur.connection.info.backend_pid
            started = cpu_seconds(pid)
            yield cur
        spent = cpu_seconds(pid) - started  # after the commit, whose CPU counts too
        with tally._lock:
            tally.cpu[tag] += spent

    setattr(owner, name, measured)


class Sampler:
    """PostgreSQL's side, from the flood's start to the views' and the log's last follow."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.db = ""
        self.before: dict[str, Any] = {}
        self.result: dict[str, Any] = {}

    def start(self, db: str) -> None:
        self.db = db
        self.tally.reset()
        pids = _backends(db)
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            commits = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (db,)
            ).fetchone()
            statements = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone()
            self.before = {"statements": bool(statements and statements[0])}
            if self.before["statements"]:
                conn.execute("SELECT pg_stat_statements_reset()")
        self.before.update(pids=pids, cpu=_cpu(pids), commits=int(commits[0]) if commits else 0)

    def stop(self) -> None:
        pids = _backends(self.db)
        cpu = _cpu(pids)
        by_name: defaultdict[str, float] = defaultdict(float)
        for pid, seconds in cpu.items():
            by_name[pids[pid]] += seconds - self.before["cpu"].get(pid, 0.0)
        statements: dict[str, dict[str, float]] = {}
        top: list[tuple[float, int, int, str]] = []
        time.sleep(1.0)  # the counters of what just committed are published within a second
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            commits = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (self.db,)
            ).fetchone()
            if self.before["statements"]:
                for query, calls, ms, rows in conn.execute(
                    "SELECT s.query, s.calls, s.total_exec_time, s.rows "
                    "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                    "WHERE d.datname = %s",
                    (self.db,),
                ).fetchall():
                    top.append(
                        (float(ms), int(calls), int(rows), " ".join(str(query).split())[:90])
                    )
                    group = _group(str(query))
                    entry = statements.setdefault(group, {"calls": 0, "ms": 0.0, "rows": 0})
                    entry["calls"] += int(calls)
                    entry["ms"] += float(ms)
                    entry["rows"] += int(rows)
        self.result = {
            "backend_cpu": dict(by_name),
            "commits": (int(commits[0]) if commits else 0) - self.before["commits"],
            "statements": statements,
            "top": sorted(top, reverse=True)[:12],
            "service": {"cpu": dict(self.tally.cpu), "calls": dict(self.tally.calls)},
        }


def _group(query: str) -> str:
    text = query.lower()
    for name, marks in GROUPS:
        if any(mark in text for mark in marks):
            return name
    first = text.split(None, 1)[0] if text.strip() else "?"
    return first if first in {"begin", "commit", "rollback", "select", "set"} else "other"


def run(seconds: float) -> dict[str, Any]:
    from projections.store import ViewStore
    from service.adapters.merkle_log import MerkleLog
    from service.workers.live import LiveViews
    from service.workers.merkle_log import MerkleLogWorker

    tally = Tally()
    tally.wrap(LiveViews, "follow", "views")
    tally.wrap(MerkleLogWorker, "round", "merkle")
    tally.wrap(ViewStore, "commit", "views commits")
    tally.wrap(MerkleLog, "_insert_leaves", "merkle commits")
    backend_cpu_of(MerkleLog, "_transaction", tally, "merkle backend")
    sampler = Sampler(tally)

    # The flood's start and the last follow are heartbeat_profile's own points in time.
    spawn = asyncio.create_subprocess_exec
    followed = heartbeat_profile._followed

    async def flood(*args: Any, **kwargs: Any) -> Any:
        sampler.start(_database)
        return await spawn(*args, **kwargs)

    def followed_then_sample(container: Any, deadline: float) -> None:
        followed(container, deadline)
        sampler.stop()

    own_database = getattr(heartbeat_profile, "own_database")  # noqa: B009 (not exported there)
    _database = ""

    def tracked_database(tag: str) -> Any:
        @contextlib.contextmanager
        def database() -> Any:
            nonlocal _database
            with own_database(tag) as url:
                _database = url.rsplit("/", 1)[1]
                yield url

        return database()

    replaced = {
        (asyncio, "create_subprocess_exec"): flood,
        (heartbeat_profile, "_followed"): followed_then_sample,
        (heartbeat_profile, "own_database"): tracked_database,
    }
    originals = {key: getattr(*key) for key in replaced}
    for (module, name), value in replaced.items():
        setattr(module, name, value)
    try:
        cost = heartbeat_profile.measure(
            seconds=seconds, rate=10_000.0, sqlite=False, profile=False
        )
    finally:
        for (module, name), value in originals.items():
            setattr(module, name, value)
    per = max(1, cost.recorded)
    result = sampler.result
    us = {name: round(value / per * 1e6, 1) for name, value in result["backend_cpu"].items()}
    return {
        "recorded": cost.recorded,
        "wall_s": round(cost.wall_seconds, 2),
        "load": round(os.getloadavg()[0], 2),
        "service_cpu_us": round(cost.cpu_us_per_message, 1),
        "service_split_us": {
            name: round(value / per * 1e6, 1)
            for name, value in result["service"]["cpu"].items()
            if "commits" not in name and "backend" not in name
        },
        "collections_per_10k": {
            name: round(calls / per * 10_000)
            for name, calls in result["service"]["calls"].items()
            if name.startswith("gc")
        },
        "commits_per_10k": {
            "all": round(result["commits"] / per * 10_000),
            **{
                name.split()[0]: round(calls / per * 10_000)
                for name, calls in result["service"]["calls"].items()
                if "commits" in name
            },
        },
        "postgres_cpu_us": {
            "all": round(sum(us.values()), 1),
            **us,
            "merkle (of lonewatch-store)": round(
                result["service"]["cpu"].get("merkle backend", 0.0) / per * 1e6, 1
            ),
        },
        "statements_us": {
            name: {
                "exec_us": round(entry["ms"] * 1e3 / per, 1),
                "calls_per_10k": round(entry["calls"] / per * 10_000),
                "rows_per_hb": round(entry["rows"] / per, 2),
            }
            for name, entry in sorted(result["statements"].items(), key=lambda kv: -kv[1]["ms"])
        },
        "top_statements": [
            {"exec_us": round(ms * 1e3 / per, 1), "calls": calls, "rows": rows, "query": query}
            for ms, calls, rows, query in result["top"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heartbeat_split")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.runs):
        print(json.dumps(run(args.seconds)), flush=True)


if __name__ == "__main__":
    main()
