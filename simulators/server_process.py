"""A server process of the caller's own (Mosquitto, a nats-server node, `lonewatch serve`):
a free loopback port to put it on, waiting until it listens, and stopping it, cleanly or
as a crash. Tests and benchmarks take these servers away and bring them back, which must
never be done to the shared ones.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    """Does something listen on 127.0.0.1:`port`?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_listening(
    process: subprocess.Popen[bytes],
    ports: Iterable[int],
    *,
    name: str,
    deadline: float,
    detail: Callable[[], str],
) -> None:
    """Until each port accepts connections. The process exiting first raises RuntimeError
    with `detail()` (where to read why); `deadline` (time.monotonic()) passing, TimeoutError."""
    for port in ports:
        while not accepts(port):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}): {detail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not open 127.0.0.1:{port}")
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """A clean shutdown (SIGTERM), killed if it has not gone within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """A crash (SIGKILL)."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
