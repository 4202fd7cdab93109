"""Inbound webhooks from Twilio (INTERFACES.md section 3).

Every request must carry a valid X-Twilio-Signature computed over LW_PUBLIC_URL
and the form fields; anything else gets 403 and only a security log line.
"""

from __future__ import annotations

import asyncio
from xml.sax.saxutils import escape

from aiohttp import web
from twilio.request_validator import RequestValidator

from service.entrypoints.http.keys import LIVE, LONEWATCH, SETTINGS
from service.logs import get_logger

log = get_logger(__name__)


async def signed_form(request: web.Request) -> dict[str, str] | None:
    """The form fields if the signature verifies against the public URL, else None."""
    settings = request.app[SETTINGS]
    form = {k: str(v) for k, v in (await request.post()).items()}
    twilio = settings.twilio
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.effective_public_url + request.path_qs
    if (
        twilio is None
        or not signature
        or not RequestValidator(twilio.auth_token).validate(url, form, signature)
    ):
        log.warning(
            "webhook_signature_refused",
            path=request.path,
            remote=request.remote,
            has_signature=bool(signature),
            twilio_configured=twilio is not None,
        )
        return None
    return form


def twiml(message: str | None) -> web.Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="text/xml",
    )


async def inbound_sms(request: web.Request) -> web.Response:
    form = await signed_form(request)
    if form is None:
        return web.Response(status=403, text="signature required")
    sender, body, sid = form.get("From", ""), form.get("Body", ""), form.get("MessageSid", "")
    if not sender or not sid:
        return web.Response(status=400, text="From and MessageSid are required")
    app = request.app[LONEWATCH]
    reply = await asyncio.to_thread(app.receive_sms, sender=sender, body=body, message_sid=sid)
    request.app[LIVE].wake()
    return twiml(reply)


def add_webhook_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio/sms", inbound_sms)
