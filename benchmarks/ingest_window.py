"""What the ingest benchmark samples beside the store's head, to say what bounds the intake
while the flood is published: whether the machine had cores to spare (/proc/stat), how
much of one the service took, and the bulk lane's groups (their size and commit time,
from the service's own /metrics histograms).

If the machine is idle while the service records less than the pipe, the bound is a wait
(the broker's in-flight window over a group's commit, say), not CPU; if it is busy, CPU.
"""

from __future__ import annotations

import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BULK = re.compile(
    r'^lonewatch_gateway_commit_(seconds|batch_size)_(sum|count)\{lane="bulk"\} (\S+)$', re.M
)


@dataclass(frozen=True)
class Tick:
    """One sample of the counters, at `at` (time.monotonic())."""

    at: float
    machine_busy: float
    """Jiffies the machine's cores spent on anything but idle and iowait, in seconds."""
    machine_total: float
    service_cpu: float
    commits: float
    """Group commits of the bulk lane so far."""
    committed: float
    """Messages in them."""
    commit_seconds: float
    """Their commit time, summed."""
    backlog: int = 0
    """Messages admitted to the bulk lane and not yet taken into a group (unacknowledged)."""


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) CPU seconds of every core since boot, from /proc/stat's first line."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])  # guest time is counted in user already
    return (total - idle) / ticks, total / ticks


def bulk_commits(http_port: int) -> tuple[float, float, float]:
    """(commits, messages, seconds) of the bulk lane so far, from GET /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except (OSError, ValueError):
        return (0.0, 0.0, 0.0)
    return bulk_from_metrics(text)


def bulk_from_metrics(text: str) -> tuple[float, float, float]:
    """(commits, messages, seconds) of the bulk lane, read from Prometheus's text format."""
    found = {(kind, part): float(value) for kind, part, value in _BULK.findall(text)}
    return (
        found.get(("seconds", "count"), 0.0),
        found.get(("batch_size", "sum"), 0.0),
        found.get(("seconds", "sum"), 0.0),
    )


def tick(at: float, http_port: int, service_cpu: float, gateway: dict[str, Any]) -> Tick:
    """`gateway`: the health document's gateway check (its lanes' backlog)."""
    busy, total = machine_jiffies()
    commits, committed, seconds = bulk_commits(http_port)
    backlog = int((gateway.get("backlog") or {}).get("bulk", 0))
    return Tick(at, busy, total, service_cpu, commits, committed, seconds, backlog)


def in_window(ticks: list[Tick], start: float, end: float) -> dict[str, Any]:
    """The figures over the publishing window: the samples inside it, first to last."""
    inside = [t for t in ticks if start <= t.at <= end]
    if len(inside) < 2:
        return {}
    first, last = inside[0], inside[-1]
    wall = last.at - first.at
    total = last.machine_total - first.machine_total
    commits = last.commits - first.commits
    return {
        "machine_idle_share": 1 - (last.machine_busy - first.machine_busy) / total
        if total
        else 0.0,
        "service_cores": (last.service_cpu - first.service_cpu) / wall if wall else 0.0,
        "bulk_group_mean": (last.committed - first.committed) / commits if commits else 0.0,
        "bulk_commit_ms_mean": (last.commit_seconds - first.commit_seconds) / commits * 1e3
        if commits
        else 0.0,
        "bulk_commits_per_s": commits / wall if wall else 0.0,
        "bulk_backlog_mean": sum(t.backlog for t in inside) / len(inside),
    }
