"""Each thread's user and system CPU and its context switches, from /proc (Linux only).

A thread's CPU clock (`thread_cpu`) says how much a thread spent, not
where: the kernel's split into user and system time (/proc/self/task/TID/stat, in clock
ticks, so read over seconds, not per call) says whether the service's CPU is its own Python
or system calls, and the voluntary switches (status) how often a thread gave up the CPU to
wait: a lock, the GIL, a socket. ingest11 (docs/performance.md) measured both under a flood.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from typing import NamedTuple

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_SWITCHES = re.compile(r"^(voluntary|nonvoluntary)_ctxt_switches:\s+(\d+)$", re.MULTILINE)


class TaskTimes(NamedTuple):
    """One thread's (or a kind of threads') user and system seconds and context switches."""

    user: float
    system: float
    voluntary: int
    involuntary: int


def kind_of(name: str) -> str:
    """A thread's kind: its name without numbers (paho's threads are named by client id)."""
    return "paho" if name.startswith("paho-mqtt-client-") else re.sub(r"[-_]?\d+", "", name)


def thread_cpu() -> dict[int, tuple[str, float]]:
    """Each live thread's name and CPU seconds so far, by its own CPU clock (no profiler)."""
    found: dict[int, tuple[str, float]] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        with contextlib.suppress(OSError, ProcessLookupError):  # ended meanwhile
            clock = time.pthread_getcpuclockid(thread.ident)
            found[thread.ident] = (thread.name, time.clock_gettime(clock))
    return found


def by_kind(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent between the two readings, summed per thread name without its
    numbers (a thread started in between counts from zero; one ended in between is lost)."""
    kinds: dict[str, float] = {}
    for ident, (name, seconds) in after.items():
        start = before.get(ident, (name, 0.0))[1]
        kind = kind_of(name)
        kinds[kind] = kinds.get(kind, 0.0) + seconds - start
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def parse_task(stat: str, status: str) -> TaskTimes:
    """The times in a task's `stat` line and the switches in its `status` text. The command
    name in `stat` is in parentheses and may hold spaces or parentheses itself: the fields
    are counted from the last ')' (utime and stime are the 14th and 15th of proc(5))."""
    fields = stat.rsplit(")", 1)[1].split()
    switches = dict(_SWITCHES.findall(status))
    return TaskTimes(
        int(fields[11]) / _TICK,
        int(fields[12]) / _TICK,
        int(switches.get("voluntary", 0)),
        int(switches.get("nonvoluntary", 0)),
    )


def task_times() -> dict[int, tuple[str, TaskTimes]]:
    """Each thread of this process (by native id) with its name, where /proc has it."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    found: dict[int, tuple[str, TaskTimes]] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:  # not Linux: nothing to report
        return found
    for tid in tids:
        try:
            with (
                open(f"/proc/self/task/{tid}/stat") as stat,
                open(f"/proc/self/task/{tid}/status") as status,
            ):
                times = parse_task(stat.read(), status.read())
        except OSError:  # ended meanwhile
            continue
        found[int(tid)] = (names.get(int(tid), f"thread-{tid}"), times)
    return found


def times_by_kind(
    before: dict[int, tuple[str, TaskTimes]], after: dict[int, tuple[str, TaskTimes]]
) -> dict[str, TaskTimes]:
    """What each kind of thread spent between the two readings (a thread started in
    between counts from zero; one ended in between is lost), the busiest kind first."""
    sums: dict[str, list[float]] = {}
    for tid, (name, now) in after.items():
        then = before.get(tid, (name, TaskTimes(0.0, 0.0, 0, 0)))[1]
        total = sums.setdefault(kind_of(name), [0.0, 0.0, 0, 0])
        for at, (new, old) in enumerate(zip(now, then, strict=True)):
            total[at] += new - old
    kinds = {
        kind: TaskTimes(user, system, int(voluntary), int(involuntary))
        for kind, (user, system, voluntary, involuntary) in sums.items()
    }
    return dict(sorted(kinds.items(), key=lambda kv: -(kv[1].user + kv[1].system)))
