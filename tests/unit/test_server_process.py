"""The one way the simulators start a server of their own and take it away
(simulators/server_process.py): a server that dies says so, one that never listens times
out, and one that ignores SIGTERM is killed rather than left behind."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from simulators import server_process


def python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_server_that_exits_before_listening_is_named_with_where_to_look() -> None:
    process = python("raise SystemExit(3)")
    with pytest.raises(RuntimeError, match=r"fake exited \(3\): see fake\.log"):
        server_process.wait_listening(
            process,
            [server_process.free_port()],
            name="fake",
            deadline=time.monotonic() + 10,
            detail=lambda: "see fake.log",
        )


def test_a_server_that_never_listens_times_out() -> None:
    process = python("import time; time.sleep(30)")
    port = server_process.free_port()
    try:
        with pytest.raises(TimeoutError, match=f"fake did not open 127.0.0.1:{port}"):
            server_process.wait_listening(
                process, [port], name="fake", deadline=time.monotonic() + 0.3, detail=str
            )
    finally:
        server_process.kill(process)
    assert process.poll() is not None


def test_waiting_ends_once_every_port_listens() -> None:
    with socket.socket() as a, socket.socket() as b:
        for sock in (a, b):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        process = python("import time; time.sleep(30)")
        try:
            server_process.wait_listening(
                process,
                [a.getsockname()[1], b.getsockname()[1]],
                name="fake",
                deadline=time.monotonic() + 5,
                detail=str,
            )
        finally:
            server_process.stop(process, timeout=5)
    assert process.returncode is not None


def test_a_server_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    started = time.monotonic()
    server_process.stop(process, timeout=0.5)
    assert process.returncode == -9
    assert time.monotonic() - started < 10
