"""Structured logging: one event name per line, JSON in production, readable in a terminal.

Standard-library loggers (aiohttp, paho, twilio) are routed through the same
processors so every line has the same shape.

What must never reach a line (issue 16): a safe word, a password, a bearer token (`lw_…`),
a console session (`lws_…`), a message body (it can carry a pupil reference), a pupil
reference, a note. Three guards, each for what the others miss: fields with those names
are replaced (`_redact_fields`); token-shaped text anywhere in a line, a traceback
included, is masked (`_mask_tokens`); and tracebacks never carry a frame's local
variables, in either format. tests/integration/test_log_redaction.py runs a whole
scenario and scans every line, in both formats, for every secret it used.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

REDACTED = "[redacted]"
SECRET_KEYS = frozenset(
    {
        "safe_word",
        "secret",
        "password",
        "token",
        "auth_token",
        "authorization",
        "cookie",
        "body",
        "say",
        "text",
        "note",
        "pupil_ref",
        "csrf_token",
    }
)
"""Fields whose value is never logged, whoever passes them. A body or a spoken message
can name a pupil's reference; `text` is what a device or a person wrote."""

PHONE_KEYS = frozenset({"to", "sender", "phone", "mobile", "from_number", "caller"})
"""Fields that hold a phone number: logged as its last three digits (`masked_phone`)."""

TOKEN_PATTERN = re.compile(r"\blws?_[A-Za-z0-9_-]{16,}")
"""Bearer tokens (`lw_` + 43) and console sessions (`lws_` + 43), wherever they appear."""

WARNING_BURST = 5
WARNING_WINDOW = 60.0
"""At most WARNING_BURST lines of one warning event per WARNING_WINDOW seconds; the next
line after a quiet spell says how many were held back (`repeated`)."""


def masked_phone(number: str) -> str:
    """Enough of a phone number to tell two apart in a log (its last three digits), not
    enough to ring it: a number is personal data."""
    if number.startswith("…"):
        return number
    return f"…{number[-3:]}" if len(number) > 3 else "…"


def _redact_fields(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Never let a safe word, secret, token or message body reach a line by its field name."""
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        elif key.lower() in PHONE_KEYS and isinstance(event_dict[key], str):
            event_dict[key] = masked_phone(event_dict[key])
    return event_dict


PHONE_PATTERN = re.compile(r"\+\d{7,15}\b")
"""An E.164 number inside a text (a provider's error names the number it refused)."""


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        value = PHONE_PATTERN.sub(lambda m: masked_phone(m.group()), value)
        return TOKEN_PATTERN.sub("lw_[redacted]", value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def _mask_tokens(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A token or phone number inside a message, a URL or an exception's text is masked too."""
    return {key: _mask(value) for key, value in event_dict.items()}


class RepeatedWarnings:
    """Rate-limits warnings (and errors) that repeat: per logger and event name, a burst,
    then silence counted until the window has passed. A flood of rejected device messages
    or refused requests becomes a few lines with counts, not megabytes.

    Thread-safe: paho's callbacks log from their own thread."""

    def __init__(
        self,
        burst: int = WARNING_BURST,
        window: float = WARNING_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = burst
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], tuple[float, int, int]] = {}

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        # Which field's value has its own limit: `alert` by default; `device` where the
        # line's device is one of the directory's (a recorded message's), never one named
        # by an unknown client's topic, which could mint a new key per line.
        per = str(event_dict.pop("rate_limit_per", "alert"))
        if method not in {"warning", "warn", "error"} or "exc_info" in event_dict:
            return event_dict  # failures with a traceback are rare and each one matters
        if event_dict.get("final") is True:
            return event_dict  # the last word on one notification: what operators alert on
        # Per alert: in a provider outage every alert's tries fail at once, and the limit
        # per event name alone kept only the first alert's lines (the others', and their
        # final failures, were dropped). Alert ids are ours, so this cannot be flooded.
        key = (
            str(event_dict.get("logger", getattr(logger, "name", ""))),
            str(event_dict["event"]),
            str(event_dict.get(per, "")),
        )
        now = self._clock()
        with self._lock:
            started, logged, held = self._seen.get(key, (now, 0, 0))
            if now - started >= self._window:
                started, logged = now, 0
            if logged >= self._burst:
                self._seen[key] = (started, logged, held + 1)
                raise structlog.DropEvent
            self._seen[key] = (started, logged + 1, 0)
            if len(self._seen) > 10_000:  # event names are ours: this only guards a bug
                self._seen.clear()
        if held:
            event_dict["repeated"] = held
        return event_dict


def _shared(fmt: str) -> list[Any]:
    traceback: Any = (
        # A structured traceback (frames as objects) for log stores; never the locals.
        structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False, max_frames=30)
        )
        if fmt == "json"
        else structlog.processors.format_exc_info
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_fields,
        traceback,
        _mask_tokens,
    ]


def configure_logging(fmt: str = "console", level: int = logging.INFO) -> None:
    shared = _shared(fmt)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            # plain_traceback: rich's tracebacks print every frame's local variables.
            colors=False,
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            structlog.stdlib.add_logger_name,
            RepeatedWarnings(),
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # twilio's clients log every request's URL (the account SID) and headers at INFO.
    for noisy in (
        "aiohttp.access",
        "twilio.http_client",
        "twilio.async_http_client",
        "amqtt",
        "transitions",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)  # type: ignore[no-any-return]
