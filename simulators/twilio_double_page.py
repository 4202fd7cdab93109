"""The Twilio double's page for people: every text and call it was asked for, newest first,
with what a call said when it was answered (the TwiML the service gave), so a demo shows
who was told what without a phone."""

from __future__ import annotations

import re
from html import escape, unescape
from typing import Any

_SAY = re.compile(r"<Say\b[^>]*>(.*?)</Say>", re.S)


def said(twiml: str | None) -> str:
    """The words a TwiML document reads out."""
    return " ".join(unescape(m) for m in _SAY.findall(twiml or ""))


def _answered(callbacks: list[dict[str, Any]]) -> dict[str, list[str]]:
    """CallSid -> what was said and pressed on it."""
    heard: dict[str, list[str]] = {}
    for callback in callbacks:
        form = callback.get("form") or {}
        sid = form.get("CallSid")
        if not sid:
            continue
        if "/voice/alert" in callback.get("url", ""):
            heard.setdefault(sid, []).append(f"answered ({form.get('AnsweredBy')}): ")
            heard[sid].append(said(callback.get("body")))
        elif form.get("Digits"):
            heard.setdefault(sid, []).append(f" — pressed {form['Digits']}: ")
            heard[sid].append(said(callback.get("body")))
        elif form.get("CallStatus") in ("no-answer", "busy", "failed"):
            heard.setdefault(sid, []).append(form["CallStatus"].replace("-", " "))
    return heard


def _sid(record: dict[str, Any]) -> str:
    return str(record.get("sid") or "")


def sent_page(
    messages: list[dict[str, Any]], calls: list[dict[str, Any]], callbacks: list[dict[str, Any]]
) -> str:
    by_call = _answered(callbacks)
    rows: list[tuple[str, str]] = []
    for m in messages:
        form = m["form"]
        rows.append(
            (
                m["received_at"],
                f"<td>text</td><td>{escape(form.get('To', ''))}</td>"
                f"<td>{escape(form.get('Body', ''))}</td>",
            )
        )
    for c in calls:
        form = c["form"]
        heard = "".join(by_call.get(_sid(c), [])) or "ringing…"
        rows.append(
            (
                c["received_at"],
                f"<td>call</td><td>{escape(form.get('To', ''))}</td><td>{escape(heard)}</td>",
            )
        )
    body = "".join(
        f"<tr><td>{escape(at[11:19])} UTC</td>{cells}</tr>"
        for at, cells in sorted(rows, reverse=True)
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='3'><title>Texts and calls (Twilio double)</title>"
        "<style>body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #ccc;padding:.35rem .6rem;text-align:left;vertical-align:top}"
        "</style></head><body><h1>Texts and calls</h1>"
        "<p>What Lonewatch asked Twilio to send, newest first (this page refreshes itself).</p>"
        "<table><thead><tr><th>When</th><th>What</th><th>To</th><th>Said</th></tr></thead>"
        f"<tbody>{body or '<tr><td colspan=4>Nothing yet.</td></tr>'}</tbody></table></body></html>"
    )
