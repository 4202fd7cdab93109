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


def test_a_json_line_carries_the_traceback_of_the_failure_as_structure() -> None:
    [line] = [json.loads(raw) for raw in _log_of("json").splitlines() if raw.startswith("{")]
    assert line["event"] == "loop_failed" and line["loop"] == "scheduler"
    [failure] = line["exception"]
    assert failure["exc_type"] == "ConnectionError"
    assert failure["exc_value"] == "the database is restarting"
    assert [frame["name"] for frame in failure["frames"]] == ["<module>", "connect"]
    assert all("locals" not in frame for frame in failure["frames"])


def test_a_console_line_carries_the_traceback_as_text() -> None:
    log = _log_of("console")
    assert "Traceback (most recent call last)" in log and "in connect" in log
    assert "ConnectionError: the database is restarting" in log


REPEATING = """
from service.logs import configure_logging, get_logger
configure_logging("json")
log = get_logger("lonewatch.test")
for n in range(1000):
    log.warning("device_message_rejected", reason="unknown device", n=n)
    log.info("heartbeat_recorded", n=n)
"""


def test_a_warning_that_repeats_is_logged_a_few_times_not_a_thousand() -> None:
    done = subprocess.run(
        [sys.executable, "-c", REPEATING],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(raw) for raw in done.stderr.splitlines() if raw.startswith("{")]
    warnings = [line for line in lines if line["event"] == "device_message_rejected"]
    assert [w["n"] for w in warnings] == [0, 1, 2, 3, 4]
    assert sum(line["event"] == "heartbeat_recorded" for line in lines) == 1000


def test_repeats_held_back_are_counted_on_the_next_line_after_the_window() -> None:
    import structlog

    from service.logs import RepeatedWarnings

    now = [0.0]
    limit = RepeatedWarnings(burst=2, window=60.0, clock=lambda: now[0])

    def warn() -> dict[str, object] | None:
        try:
            return limit(None, "warning", {"event": "rejected", "logger": "gw"})
        except structlog.DropEvent:
            return None

    assert [warn() is not None for _ in range(5)] == [True, True, False, False, False]
    now[0] = 61.0
    assert warn() == {"event": "rejected", "logger": "gw", "repeated": 3}
    assert warn() == {"event": "rejected", "logger": "gw"}


def test_a_provider_outage_keeps_each_alerts_lines_and_every_final_failure() -> None:
    """Twilio failing every try for several alerts at once: the limit per event name kept
    the first alert's lines only, and the `final=true` line operators alert on was dropped."""
    import structlog

    from service.logs import RepeatedWarnings

    limit = RepeatedWarnings(burst=2, window=60.0, clock=lambda: 0.0)

    def logged(alert: str, final: bool = False) -> bool:
        line = {"event": "notification_attempt_failed", "logger": "tries", "alert": alert}
        try:
            limit(None, "warning", line | {"final": final})
        except structlog.DropEvent:
            return False
        return True

    assert [logged("a-1") for _ in range(3)] == [True, True, False]
    assert [logged("a-2") for _ in range(2)] == [True, True], "another alert's own lines"
    assert logged("a-1", final=True), "the last word on a notification is never dropped"


def test_a_device_fault_is_limited_per_device_so_a_flood_hides_no_other_device() -> None:
    """A fob reusing ids on every heartbeat writes a few lines a window; another device's
    clock skew still shows, and the limit's own field never reaches the line."""
    import structlog

    from service.logs import RepeatedWarnings

    limit = RepeatedWarnings(burst=2, window=60.0, clock=lambda: 0.0)

    def logged(device: str) -> dict[str, object] | None:
        line = {"event": "device_clock_skew", "logger": "acks", "device": device}
        try:
            return limit(None, "warning", line | {"rate_limit_per": "device"})
        except structlog.DropEvent:
            return None

    assert [logged("fob-1") is not None for _ in range(1000)].count(True) == 2
    assert logged("fob-2") == {"event": "device_clock_skew", "logger": "acks", "device": "fob-2"}


def test_a_token_inside_any_text_is_masked() -> None:
    from service.logs import _mask_tokens

    token = "lw_" + "a1B2" * 11
    session = "lws_" + "Zz9_" * 11
    line = _mask_tokens(None, "info", {"event": f"GET /x?t={token}", "exception": [session]})
    assert token not in repr(line) and session not in repr(line)


def test_a_phone_number_is_logged_as_its_last_digits_whatever_the_field() -> None:
    from service.logs import _mask_tokens, _redact_fields

    line = _redact_fields(None, "info", {"event": "x", "to": "+447700900001", "body": "hi"})
    line = _mask_tokens(None, "info", {**line, "reason": "number +441702000010 refused"})
    assert line == {
        "event": "x",
        "to": "…001",
        "body": "[redacted]",
        "reason": "number …010 refused",
    }


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_traceback_never_shows_the_values_of_local_variables(fmt: str) -> None:
    log = _log_of(fmt)
    assert "ConnectionError" in log
    assert "hunter2-not-for-logs" not in log
