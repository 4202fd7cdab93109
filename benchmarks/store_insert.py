"""The event store alone, handed groups of heartbeats: three ways of inserting a group.

    python -m benchmarks.store_insert [--events 50000] [--group 500]

Each way gets a fresh PostgreSQL database of its own and the same sealed events (made
once, outside the timing): the library's insert (a prepared INSERT per event, pipelined,
after `LOCK TABLE` and `NOTIFY`), the same with `POSTGRES_ENABLE_DB_FUNCTIONS=y` (one call
of a stored function, which takes no table lock), and ours (`insert_events`: one
`INSERT ... SELECT FROM unnest(...)` after the same lock and `NOTIFY`). Prints events/s and
the process's CPU per event for each, in the same run.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from benchmarks.common import own_database
from service.adapters.event_inserts import insert_events
from service.adapters.event_store import eventsourcing_env
from service.domain.devices.messages import received


def _stored(app: Any, count: int) -> list[Any]:
    now = datetime.now(UTC)
    events = [
        received(
            uuid4(),
            device=f"bench-{i % 1000:05d}",
            kind="heartbeat",
            msg_id=f"m-{i}",
            device_ts=None,
            fields={"battery": 87},
            school="bench",
            staff="st-0001",
            timestamp=now,
        )
        for i in range(count)
    ]
    return [app.mapper.to_stored_event(e) for e in events]


def one_way(name: str, events: int, group: int) -> dict[str, float]:
    from eventsourcing.application import Application

    with own_database(f"insert_{name}") as db:
        env = eventsourcing_env(db)
        if name == "db_functions":
            env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "y"
        app: Application[Any] = Application(env)
        try:
            stored = _stored(app, events)
            cpu, wall = time.process_time(), time.monotonic()
            for start in range(0, events, group):
                chunk = stored[start : start + group]
                if name == "unnest":
                    insert_events(app.recorder, chunk)
                else:
                    app.recorder.insert_events(chunk)
            wall = time.monotonic() - wall
            cpu = time.process_time() - cpu
        finally:
            app.close()
    return {"events_per_s": events / wall, "cpu_us_per_event": cpu / events * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_insert")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--group", type=int, default=500)
    args = parser.parse_args()
    for name in ("library", "db_functions", "unnest", "library"):
        figures = one_way(name, args.events, args.group)
        print(
            f"{name:13s} {figures['events_per_s']:>9,.0f} ev/s  "
            f"{figures['cpu_us_per_event']:>6.1f} CPU-us/event (this process)",
            flush=True,
        )


if __name__ == "__main__":
    main()
