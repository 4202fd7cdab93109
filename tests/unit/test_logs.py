"""What reaches the log when a loop fails: the traceback, and never a frame's variables.

In a process of its own, because `configure_logging` sets structlog up for the whole
process (and caches it), which would change every other test's logging."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.harness import REPO

FAILING = """
from service.logs import configure_logging, get_logger
configure_logging({fmt!r})

def connect(password):
    raise ConnectionError("the database is restarting")

try:
    connect("hunter2-not-for-logs")
except Exception as exc:
    get_logger("lonewatch.test").exception("loop_failed", loop="scheduler", exc_info=exc)
"""


def _log_of(fmt: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", FAILING.format(fmt=fmt)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


def test_a_json_line_carries_the_traceback_of_the_failure() -> None:
    [line] = [json.loads(raw) for raw in _log_of("json").splitlines() if raw.startswith("{")]
    assert line["event"] == "loop_failed" and line["loop"] == "scheduler"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "in connect" in line["exception"]
    assert line["exception"].endswith("ConnectionError: the database is restarting")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_traceback_never_shows_the_values_of_local_variables(fmt: str) -> None:
    log = _log_of(fmt)
    assert "Traceback (most recent call last)" in log
    assert "hunter2-not-for-logs" not in log
