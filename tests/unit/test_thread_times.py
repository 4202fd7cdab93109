"""The heartbeat benchmark's per-thread user and system CPU and switches, read from /proc
(benchmarks/thread_times.py): the fields of proc(5) counted from the command name's last
parenthesis, and the sums by kind of thread between two readings."""

from __future__ import annotations

import os
import sys

import pytest

from benchmarks.thread_times import TaskTimes, kind_of, parse_task, task_times, times_by_kind

TICK = os.sysconf("SC_CLK_TCK")
STATUS = "Name:\tpython\nvoluntary_ctxt_switches:\t41\nnonvoluntary_ctxt_switches:\t7\n"


def test_times_are_counted_from_the_command_names_last_parenthesis() -> None:
    # A command name holding a space and a ')' must not shift the fields (utime 250, stime 30).
    stat = "123 (lw worker) x) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0 99"
    assert parse_task(stat, STATUS) == TaskTimes(250 / TICK, 30 / TICK, 41, 7)


def test_each_kind_sums_its_threads_and_a_new_thread_counts_from_zero() -> None:
    before = {
        1: ("MainThread", TaskTimes(1.0, 0.5, 10, 1)),
        2: ("lw-worker_0", TaskTimes(2.0, 0.0, 5, 0)),
    }
    after = {
        1: ("MainThread", TaskTimes(1.5, 0.75, 12, 2)),
        2: ("lw-worker_0", TaskTimes(3.0, 0.25, 9, 0)),
        3: ("lw-worker_1", TaskTimes(0.5, 0.25, 3, 1)),  # started in between
        4: ("paho-mqtt-client-lw-1-alarm", TaskTimes(0.25, 0.0, 1, 0)),
    }
    kinds = times_by_kind(before, after)
    assert kinds == {
        "lw-worker": TaskTimes(1.5, 0.5, 7, 1),
        "MainThread": TaskTimes(0.5, 0.25, 2, 1),
        "paho": TaskTimes(0.25, 0.0, 1, 0),
    }
    assert list(kinds) == ["lw-worker", "MainThread", "paho"]  # the busiest first
    assert kind_of("lw-gateway-bulk_3") == "lw-gateway-bulk"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_this_process_threads_are_found_by_name() -> None:
    found = task_times()
    assert found[os.getpid()][0] == "MainThread"  # the main thread's id is the process's
    assert all(t.user >= 0 and t.voluntary >= 0 for _, t in found.values())
