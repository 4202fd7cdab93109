"""A process restarted after a crash takes its dead predecessor's leases at once, not after
they expire (service/adapters/leases.py, `holder_gone`): until it does, no timer fires and
no SOS text is sent. Only on proof: a holder still running, or on another host, is waited
out, and the old term's token is refused from the moment the new term begins."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from service.adapters.leases import PostgresLeases, holder_gone, this_host

LONG = 60.0
"""A lease this long cannot have expired while a test runs: a take is a takeover."""


def a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: no zombie answers for it
    return process.pid


@pytest.fixture
def running() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def here(pid: int, addr: str = "127.0.0.1:8080") -> str:
    return f"{this_host()}:{pid}:{addr}"


def test_only_a_holder_on_this_host_whose_process_is_gone_is_gone(running: int) -> None:
    assert holder_gone(here(a_dead_pid()))
    assert not holder_gone(here(running))
    assert not holder_gone(here(os.getpid()))  # this process, under another address
    assert not holder_gone(f"another-host-{socket.gethostname()}:{a_dead_pid()}:x")
    # The same host name in another pid namespace (a container on host networking): its
    # pids are not ours to judge.
    assert not holder_gone(f"{socket.gethostname()}/1:{a_dead_pid()}:x")
    assert not holder_gone("not a holder name")


def take_first(url: str, holder: str) -> tuple[PostgresLeases, int]:
    first = PostgresLeases(url, holder, ttl=LONG)
    token = first.hold("timers")
    assert token is not None
    return first, token


def test_a_restarted_process_takes_a_dead_holders_lease_at_once(postgres_url: str) -> None:
    dead, token = take_first(postgres_url, here(a_dead_pid()))
    successor = PostgresLeases(postgres_url, here(os.getpid(), "127.0.0.1:8181"), ttl=LONG)
    try:
        taken = successor.hold("timers")
        assert taken == token + 1  # a new term, long before the old one could expire
        assert successor.hold("timers") == taken  # and renewed as its own
        assert not dead.still_holds("timers", token)  # the old term is fenced off
        (row,) = successor.rows()
        assert row.holder == successor.holder
    finally:
        dead.close()
        successor.close()


@pytest.mark.parametrize("where", ["running here", "another host"])
def test_a_live_or_distant_holders_lease_is_waited_out(
    postgres_url: str, running: int, where: str
) -> None:
    holder = here(running) if where == "running here" else f"elsewhere:{a_dead_pid()}:x"
    first, token = take_first(postgres_url, holder)
    successor = PostgresLeases(postgres_url, here(os.getpid(), "127.0.0.1:8181"), ttl=LONG)
    try:
        assert successor.hold("timers") is None
        assert first.still_holds("timers", token)
        (row,) = successor.rows()
        assert row.holder == holder
    finally:
        first.close()
        successor.close()
