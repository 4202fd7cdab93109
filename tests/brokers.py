"""A Mosquitto of a test's own, on a free port, built from the production configuration.

For tests that need the production settings (queues, ACL) or that would disturb the
shared broker; never touches the shared Mosquitto on 1883.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, reachable
from tests.harness import REPO

PRODUCTION_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
PRODUCTION_ACL = REPO / "deploy" / "mosquitto" / "lonewatch.acl"


def broker_conf(
    workdir: Path, port: int, *, passwd: Path | None = None, acl: Path | None = None
) -> Path:
    """The production file with this test's port, directory and (optional) credentials."""
    lines = []
    for line in PRODUCTION_CONF.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {workdir}/"
        elif key == "password_file":
            line = f"password_file {passwd}" if passwd else ""
        elif key == "acl_file":
            line = f"acl_file {acl}" if acl else ""
        elif key == "allow_anonymous":
            line = f"allow_anonymous {'false' if passwd else 'true'}"
        lines.append(line)
    lines.append(f"log_dest file {workdir / 'mosquitto.log'}")
    if os.geteuid() == 0:  # else Mosquitto drops to user 'mosquitto', who cannot read tmp_path
        lines.append("user root")
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


@contextlib.contextmanager
def own_mosquitto(
    workdir: Path, *, passwd: Path | None = None, acl: Path | None = None
) -> Iterator[int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("mosquitto is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = broker_conf(workdir, port, passwd=passwd, acl=acl)
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", port, timeout=0.2):
            if process.poll() is not None:
                raise AssertionError(f"mosquitto exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise AssertionError("mosquitto did not open its port")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
