"""Where a heartbeat's CPU goes, by stage of the service, without a profiler.

`heartbeat_profile --stages` wraps a handful of the service's methods, each a stage a
heartbeat passes through, with its thread's CPU clock (`time.thread_time`, so waiting on
a socket or a lock costs nothing) and sums them. cProfile inflates every Python call
~7 times and py-spy cannot tell a thread waiting in C from one working there; this counts
only the stages, at ~1 µs a call: the per-message stages (admit) carry that much of their
own overhead, the per-group and per-round ones nothing worth naming.

Stages nest where the code does (the intake's group holds its save, the save the store's
insert; the views' round holds the projecting and the write): the table says which.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

STAGES: tuple[tuple[str, str, str, str], ...] = (
    # (label, module, class, method)
    (
        "loop: paho's hand-overs, a turn each (admit inside)",
        "device_gateway.gateway",
        "Gateway",
        "_admit_handed",
    ),
    ("loop: admit (topic, parse, check, queue)", "device_gateway.gateway", "Gateway", "admit"),
    ("loop: acknowledgements", "device_gateway.acks", "Acks", "settle_all"),
    (
        "bulk: intake of a group, all",
        "service.application.device_intake",
        "DeviceIntake",
        "_record",
    ),
    (
        "bulk:   its save (encode, seal, insert, commit, hand-over)",
        "service.application.device_intake",
        "DeviceIntake",
        "_save",
    ),
    (
        "bulk:   building each fact (fields, ids, the event)",
        "service.application.device_intake",
        "DeviceIntake",
        "_build",
    ),
    (
        "bulk:     the store's put (seal, insert, commit)",
        "service.adapters.sealing",
        "SealedEventStore",
        "put",
    ),
    (
        "bulk:       its insert and commit",
        "service.adapters.sealing",
        "SealedEventStore",
        "_insert",
    ),
    ("workers: live views' round, all", "service.workers.live", "LiveViews", "follow"),
    (
        "workers:   a handed batch (the collector paused)",
        "projections.projector",
        "Projector",
        "apply_committed",
    ),
    (
        "workers:     the same, the collector's pause left out",
        "projections.projector",
        "Projector",
        "_apply_committed",
    ),
    (
        "workers:   projecting (handlers, changes, index rows)",
        "projections.projector",
        "Projector",
        "_project_events",
    ),
    (
        "workers:   the views' write (COPY, upsert, commit)",
        "projections.projector",
        "Projector",
        "_write",
    ),
    ("workers: Merkle log's round, all", "service.workers.merkle_log", "MerkleLogWorker", "round"),
    (
        "workers:   leaves of the handed events",
        "service.adapters.merkle_log",
        "MerkleLog",
        "append_handed",
    ),
)


class Stages:
    """CPU seconds and calls per stage since the last `reset`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys((s[0] for s in STAGES), 0.0)
        self.calls: dict[str, int] = dict.fromkeys(self.seconds, 0)
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            for label in self.seconds:
                self.seconds[label] = 0.0
                self.calls[label] = 0

    def _timed(self, label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.thread_time
        lock = self._lock
        seconds, calls = self.seconds, self.calls

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return method(*args, **kwargs)
            finally:
                spent = clock() - started
                with lock:
                    seconds[label] += spent
                    calls[label] += 1

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[Stages]:
        """Each stage's method wrapped on its class while inside; put back after."""
        originals: list[tuple[type, str, Any]] = []
        try:
            for label, module, cls_name, name in STAGES:
                cls = getattr(importlib.import_module(module), cls_name)
                original = cls.__dict__[name]
                originals.append((cls, name, original))
                setattr(cls, name, self._timed(label, original))
            yield self
        finally:
            for cls, name, original in reversed(originals):
                setattr(cls, name, original)

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        """Seconds and calls so far: `table(since=...)` then counts only what came after."""
        with self._lock:
            return dict(self.seconds), dict(self.calls)

    def table(
        self,
        recorded: int,
        since: tuple[dict[str, float], dict[str, int]] | None = None,
        until: tuple[dict[str, float], dict[str, int]] | None = None,
    ) -> list[str]:
        """One line a stage: CPU-µs a heartbeat, calls a heartbeat (between two snapshots:
        from `since`, or the reset, until `until`, or now)."""
        per = max(1, recorded)
        seconds0, calls0 = since if since is not None else ({}, {})
        seconds1, calls1 = until if until is not None else (self.seconds, self.calls)
        return [
            f"  {(seconds1[label] - seconds0.get(label, 0.0)) * 1e6 / per:7.1f} CPU-us  "
            f"({(calls1[label] - calls0.get(label, 0)) / per:6.3f} calls)  {label}"
            for label, *_ in STAGES
        ]
