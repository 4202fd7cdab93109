"""Twilio's REST API as the double answers it: the outcomes a test can script, the JSON of
a created message or call, the errors (with Twilio's codes) for a failure, a refused
number or a missing field, and the <Gather> action a call's TwiML names."""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Literal, get_args

from aiohttp import web

Kind = Literal["messages", "calls"]
Outcome = Literal[
    "ok",
    "fail_500",
    "fail_429",
    "fail_400",
    "slow",
    # Accepted (201), then played out through the StatusCallback and, for calls, the Url:
    "delivered",
    "undelivered",
    "no_answer",
    "voicemail",
    "answered",
    "pressed",
]
OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
PLAYED: dict[str, tuple[str, ...]] = {
    # outcome -> the status callbacks, in order (a call's Url is fetched when it is answered)
    "delivered": ("sent", "delivered"),
    "undelivered": ("sent", "undelivered"),
    "no_answer": ("initiated", "ringing", "no-answer"),
    "voicemail": ("initiated", "ringing", "in-progress", "completed"),
    "answered": ("initiated", "ringing", "in-progress", "completed"),
    "pressed": ("initiated", "ringing", "in-progress", "completed"),
}
"""`ok` is accepted and nothing more happens (as before); these go on to happen."""
API = "/2010-04-01/Accounts/{account_sid}"

# (HTTP status, Twilio error code, message) for each scripted failure.
FAILURES: dict[str, tuple[int, int, str]] = {
    "fail_500": (500, 20500, "An internal server error has occurred"),
    "fail_429": (429, 20429, "Too Many Requests"),
    "fail_400": (400, 21211, "The 'To' number {to} is not a valid phone number."),
}
# What Twilio answers, every time, for a number it will never reach: (status, code, message).
REFUSALS: dict[int, tuple[int, str]] = {
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21612: (
        400,
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number",
    ),
    13224: (400, "The phone number you are attempting to call, {to}, is not valid."),
}
# Fields Twilio insists on, with the error it gives when one is missing.
REQUIRED: dict[Kind, list[tuple[tuple[str, ...], int, str]]] = {
    "messages": [
        (("To",), 21604, "A 'To' phone number is required."),
        (("From",), 21603, "A 'From' phone number is required."),
        (("Body",), 21602, "Message body is required."),
    ],
    "calls": [
        (("To",), 21201, "No 'To' number is specified"),
        (("From",), 21213, "No 'From' number is specified"),
        (("Twiml", "Url"), 21205, "Either Url or Twiml is required."),
    ],
}


def error_response(status: int, code: int, message: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def created_resource(
    kind: Kind, account_sid: str, form: dict[str, str], now: datetime
) -> dict[str, Any]:
    """The JSON Twilio returns for a newly created message or call (status `queued`)."""
    sid = ("SM" if kind == "messages" else "CA") + secrets.token_hex(16)
    uri = f"{API.format(account_sid=account_sid)}/{kind.capitalize()}/{sid}"
    stamp = format_datetime(now)
    common: dict[str, Any] = {
        "sid": sid,
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "to": form["To"],
        "from": form["From"],
        "status": "queued",
        "direction": "outbound-api",
        "date_created": stamp,
        "date_updated": stamp,
        "price": None,
        "price_unit": "USD",
        "uri": f"{uri}.json",
    }
    if kind == "messages":
        return common | {
            "body": form["Body"],
            "num_segments": "1",
            "num_media": "0",
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": None,
            "subresource_uris": {"media": f"{uri}/Media.json"},
        }
    return common | {
        "to_formatted": form["To"],
        "from_formatted": form["From"],
        "parent_call_sid": None,
        "phone_number_sid": None,
        "start_time": None,
        "end_time": None,
        "duration": None,
        "answered_by": None,
        "queue_time": "0",
        "subresource_uris": {"notifications": f"{uri}/Notifications.json"},
    }


def gather_action(twiml: str | None) -> str | None:
    """The action URL of the first <Gather> in a TwiML document, if any."""
    match = re.search(r"<Gather\b[^>]*\saction=(\"[^\"]*\"|'[^']*')", twiml or "")
    return html.unescape(match[1][1:-1]) if match else None
