"""Twilio's voice and status webhooks (INTERFACES.md section 3), signed like the SMS one.

- `POST /webhooks/twilio/voice/alert?notification=ID`: what a call says when answered,
  inside a `<Gather numDigits="1">`; only pressing 1 takes the alert. An answering machine
  hears the alert and is told it has not taken it.
- `POST /webhooks/twilio/voice/gather?notification=ID`: the key pressed.
- `POST /webhooks/twilio/status?notification=ID`: message and call status callbacks
  (sent, delivered, undelivered, failed; answered, no answer, machine); Twilio retries
  them, and a repeated status records nothing.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from service.application import acknowledgement, outbox
from service.domain.errors import NotFound
from service.entrypoints.http.keys import LIVE, LONEWATCH, SETTINGS
from service.entrypoints.http.twilio_webhooks import signed_form
from service.logs import get_logger

log = get_logger(__name__)

IGNORED_STATUSES = frozenset({"queued", "accepted", "sending", "initiated", "ringing"})
"""On the way, not an outcome: not recorded."""


def _voice(*verbs: str) -> web.Response:
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{"".join(verbs)}</Response>',
        content_type="text/xml",
    )


def _say(text: str) -> str:
    return f'<Say voice="alice" language="en-GB">{escape(text)}</Say>'


async def _signed(request: web.Request) -> tuple[dict[str, str], UUID] | web.Response:
    form = await signed_form(request)
    if form is None:
        return web.Response(status=403, text="signature required")
    try:
        return form, UUID(request.query.get("notification", ""))
    except ValueError:
        return web.Response(status=400, text="the notification query parameter is required")


def _gather(request: web.Request, notification: UUID, say: str) -> str:
    settings = request.app[SETTINGS]
    action = (
        f"{settings.effective_public_url}/webhooks/twilio/voice/gather"
        f"?notification={quote(str(notification))}"
    )
    return (
        f'<Gather numDigits="1" timeout="8" method="POST" action={quoteattr(action)}>'
        f"{_say(say + ' Press 1 to take this alert.')}</Gather>"
    )


async def voice_alert(request: web.Request) -> web.StreamResponse:
    signed = await _signed(request)
    if isinstance(signed, web.Response):
        return signed
    form, notification_id = signed
    app = request.app[LONEWATCH]
    try:
        notification = await asyncio.to_thread(app.notification, notification_id)
        alert = await asyncio.to_thread(app.alert, notification.alert_id)
    except NotFound:
        return _voice(_say("Lonewatch: this alert is not known."), "<Hangup/>")
    answered_by = form.get("AnsweredBy", "")
    if answered_by.startswith(("machine", "fax")):
        await asyncio.to_thread(
            outbox.report_status,
            app,
            notification_id,
            status="machine",
            provider_id=form.get("CallSid", ""),
            answered_by=answered_by,
        )
        request.app[LIVE].wake()
        return _voice(
            _say(
                notification.body
                + " This message does not take the alert. Lonewatch will call again."
            ),
            "<Hangup/>",
        )
    if alert.acknowledged_by is not None:
        return _voice(
            _say(
                f"Lonewatch: this alert was already taken by {alert.acknowledged_by}. "
                "No action is needed from you."
            ),
            "<Hangup/>",
        )
    return _voice(
        _gather(request, notification_id, notification.body),
        _say("No key was pressed. The alert is not taken. Lonewatch will call again."),
    )


async def voice_gather(request: web.Request) -> web.StreamResponse:
    signed = await _signed(request)
    if isinstance(signed, web.Response):
        return signed
    form, notification_id = signed
    app = request.app[LONEWATCH]
    digits = form.get("Digits", "")
    try:
        said = await asyncio.to_thread(
            acknowledgement.acknowledge_by_key, app, notification_id, digits
        )
    except NotFound:
        return _voice(_say("Lonewatch: this alert is not known."), "<Hangup/>")
    request.app[LIVE].wake()
    log.info("voice_key_pressed", notification=str(notification_id), taken=digits.strip() == "1")
    if digits.strip() != "1":
        notification = await asyncio.to_thread(app.notification, notification_id)
        return _voice(_say(said), _gather(request, notification_id, notification.body))
    return _voice(_say(said + " Goodbye."), "<Hangup/>")


async def status_callback(request: web.Request) -> web.StreamResponse:
    signed = await _signed(request)
    if isinstance(signed, web.Response):
        return signed
    form, notification_id = signed
    is_call = "CallSid" in form
    raw = form.get("CallStatus" if is_call else "MessageStatus", "")
    if not raw:
        return web.Response(status=400, text="MessageStatus or CallStatus is required")
    status = outbox.delivery_status(
        "voice" if is_call else "sms", raw, form.get("AnsweredBy") or None
    )
    if status in IGNORED_STATUSES:
        return web.Response(status=204)
    try:
        await asyncio.to_thread(
            outbox.report_status,
            request.app[LONEWATCH],
            notification_id,
            status=status,
            provider_id=form.get("CallSid") or form.get("MessageSid", ""),
            answered_by=form.get("AnsweredBy") or None,
        )
    except NotFound:
        log.warning("status_for_unknown_notification", notification=str(notification_id))
        return web.Response(status=204)
    request.app[LIVE].wake()
    return web.Response(status=204)


def add_voice_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio/voice/alert", voice_alert)
    app.router.add_post("/webhooks/twilio/voice/gather", voice_gather)
    app.router.add_post("/webhooks/twilio/status", status_callback)
