"""The growth table's ingest column: a fixed burst of heartbeats through `lonewatch serve`.

The real service as a process (whatever gateway, views and Merkle log are in the tree),
on the grown store and a Mosquitto of the run's own, as benchmarks/ingest.py drives it.
A burst of exactly `events` heartbeats from `devices` devices is published at full speed
(simulators.fleet's flood, in this process); the wall clock runs from the first publish
until every heartbeat is in the store, and the service's CPU (every thread's, from /proc)
until the views and the Merkle log have followed them too: all the work the burst made.
When they had followed is given apart: the Merkle log appends once a second, so that
time is mostly waiting, not cost.
Progress is read from the store, not from the service's health endpoint, so the polling
costs the service nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import HOST, free_port, health, serve, service_env, wait_healthy
from benchmarks.growth_table import Timed
from benchmarks.ingest import cpu_seconds
from simulators.fleet import flood

POLL = 0.02
SETTLE_LIMIT = 300.0
DRAIN_LIMIT = 300.0
IDLE_CPU_SHARE = 0.1
"""Before the burst the service must be idle: under this share of a core for a second."""


@dataclass(frozen=True)
class Progress:
    """How far the store, the views and the Merkle log are (read by the harness)."""

    head: Callable[[], int]
    views: Callable[[], int]
    merkle: Callable[[], int]

    def followed(self, head: int) -> bool:
        return self.views() >= head and self.merkle() >= head


@dataclass
class Service:
    pid: int
    http_port: int


@contextmanager
def service_on(database_url: str, mqtt_port: int, log: Path) -> Iterator[Service]:
    """`lonewatch serve` on the store, healthy (it catches its views up at start-up)."""
    http_port = free_port()
    env = service_env(database_url=database_url, mqtt_port=mqtt_port, http_port=http_port)
    with serve(env, log) as proc:
        wait_healthy(http_port, proc, log, timeout=SETTLE_LIMIT)
        yield Service(proc.pid, http_port)


def settle(service: Service, progress: Progress) -> float:
    """Wait until the views and the Merkle log have every stored event and the service is
    idle, so the burst pays for nothing that came before it; returns the idle service's
    CPU seconds per second (what the burst's figure carries without any burst)."""
    deadline = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < deadline:
        if progress.followed(progress.head()):
            before = cpu_seconds(service.pid)
            time.sleep(1.0)
            idle = cpu_seconds(service.pid) - before
            if idle < IDLE_CPU_SHARE:
                return idle
        else:
            time.sleep(0.2)
    raise TimeoutError(f"the service did not settle within {SETTLE_LIMIT:.0f} s")


def burst(
    service: Service, mqtt_port: int, progress: Progress, *, events: int, devices: int, run: str
) -> tuple[Timed, float, dict[str, Any]]:
    """Publish `events` heartbeats at full speed on a settled service (`settle` first):
    (the wall clock until all are stored with the service's CPU until the views and the
    Merkle log have followed them too, seconds until they have, details)."""
    gateway_before = _recorded(service)
    head0 = progress.head()
    target = [events]
    done: dict[str, float] = {}
    stop = threading.Event()
    cpu0, t0 = cpu_seconds(service.pid), time.monotonic()

    def watch() -> None:
        deadline = time.monotonic() + DRAIN_LIMIT
        while not stop.is_set() and time.monotonic() < deadline:
            head = progress.head()
            if "stored" not in done and head - head0 >= target[0]:
                done["stored"] = time.monotonic() - t0
            if "stored" in done and progress.followed(head):
                done["followed"] = time.monotonic() - t0
                done["cpu"] = cpu_seconds(service.pid) - cpu0
                return
            stop.wait(POLL)

    watcher = threading.Thread(target=watch, name="growth-burst-watch", daemon=True)
    watcher.start()
    report = asyncio.run(
        flood(
            HOST,
            mqtt_port,
            devices=devices,
            duration=DRAIN_LIMIT,
            run=run,
            max_messages=events,
        )
    )
    target[0] = report.acked  # what the broker took is what must be recorded
    watcher.join(DRAIN_LIMIT + 5)
    stop.set()
    if "followed" not in done:
        raise TimeoutError(f"the burst was not recorded and followed within {DRAIN_LIMIT:.0f} s")
    details = {
        "published": report.published,
        "acked": report.acked,
        "publish_s": round(report.seconds, 3),
        "stored_s": round(done["stored"], 3),
        "followed_s": round(done["followed"], 3),
        "store_grew": progress.head() - head0,
        "gateway_recorded": _recorded(service) - gateway_before,
    }
    return Timed(report.acked, done["stored"], done["cpu"]), done["followed"], details


def _recorded(service: Service) -> int:
    """The gateway's own count of recorded messages (health), checked against the store."""
    doc = health(service.http_port) or {}
    return int(doc.get("checks", {}).get("gateway", {}).get("recorded", 0))
