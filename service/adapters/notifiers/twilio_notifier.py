"""The notifier port over the real `twilio` library (asyncio client).

Twilio has no idempotency key for messages, so this adapter sends each request
exactly once (the library's `max_retries` is left off) and says whether a
failure may be retried; the caller's outbox decides when.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from service.adapters.notifiers.base import NotificationError, refusal_for
from service.logs import get_logger, masked_phone

log = get_logger(__name__)


def rebase_url(url: str, api_base: str | None) -> str:
    """`url` with its scheme and host (whichever Twilio host, region or edge) replaced by
    `api_base`'s, keeping any path prefix of `api_base`; unchanged when there is no base."""
    if not api_base:
        return url
    base, parts = urlsplit(api_base.rstrip("/")), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))


class RebasedAsyncHttpClient(AsyncTwilioHttpClient):
    """The library's aiohttp client, sending every request to `api_base` when one is given
    (the library has no base-URL option)."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__()  # pool_connections, and never max_retries: a retried POST double-sends
        self._api_base = api_base

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's signature
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            # aiohttp 3.14 deprecates its `auth=` argument, which the library uses; a header
            # says the same without the warning, and keeps working in aiohttp 4.
            headers = {**(headers or {}), "Authorization": _basic_auth(*auth)}
        return await super().request(
            method,
            rebase_url(url, self._api_base),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def _basic_auth(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def _retryable_status(status: int) -> bool:
    return status >= 500 or status == 429


class TwilioNotifier:
    """Sends SMS and places calls through Twilio; each request is bounded by `timeout_seconds`.

    With `public_url`, every message and call names its notification in its status callback
    (`/webhooks/twilio/status?notification=KEY`) and a call fetches what to say, and the
    "press 1" prompt, from `/webhooks/twilio/voice/alert?notification=KEY`.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str | None = None,
        timeout_seconds: float = 5.0,
        status_callback_url: str | None = None,
        public_url: str | None = None,
        ring_seconds: int = 30,
    ) -> None:
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._api_base = api_base
        self._timeout_seconds = timeout_seconds
        self._status_callback_url = status_callback_url
        self._public_url = public_url.rstrip("/") if public_url else None
        self._ring_seconds = ring_seconds
        # Built on first use: the library opens an aiohttp session in its constructor,
        # and that needs a running event loop.
        self._http: RebasedAsyncHttpClient | None = None
        self._client: Client | None = None

    def _twilio(self) -> Client:
        if self._client is None:
            self._http = RebasedAsyncHttpClient(self._api_base)
            self._client = Client(self._account_sid, self._auth_token, http_client=self._http)
        return self._client

    def _status_callback(self, key: str) -> str | None:
        if self._status_callback_url:
            return self._status_callback_url
        if self._public_url:
            return f"{self._public_url}/webhooks/twilio/status?notification={quote(key)}"
        return None

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        messages = self._twilio().messages
        optional: dict[str, Any] = {}
        callback = self._status_callback(key)
        if callback:
            optional["status_callback"] = callback
        sid, status = await self._bounded(
            "SMS",
            key,
            to,
            lambda: messages.create_async(to=to, from_=self._from_number, body=body, **optional),
        )
        log.info("sms_sent", key=key, to=masked_phone(to), sid=sid, status=status)
        return sid

    async def place_call(self, *, to: str, say: str, key: str) -> str:
        """Ring `to`; Twilio fetches what to say (`say` is kept by the caller's notification)
        and the key-press prompt from our voice webhook. Answering machines are detected."""
        if not self._public_url:
            raise NotificationError(
                f"call to {to} not placed: calls need LW_PUBLIC_URL (where Twilio fetches "
                "what to say and sends the key press)",
                retryable=False,
            )
        calls = self._twilio().calls
        url = f"{self._public_url}/webhooks/twilio/voice/alert?notification={quote(key)}"
        optional: dict[str, Any] = {
            "status_callback_event": ["initiated", "ringing", "answered", "completed"],
            "status_callback_method": "POST",
        }
        callback = self._status_callback(key)
        if callback:
            optional["status_callback"] = callback
        sid, status = await self._bounded(
            "call",
            key,
            to,
            lambda: calls.create_async(
                to=to,
                from_=self._from_number,
                url=url,
                method="POST",
                machine_detection="Enable",
                timeout=self._ring_seconds,
                **optional,
            ),
        )
        log.info("call_placed", key=key, to=masked_phone(to), sid=sid, status=status)
        return sid

    async def _bounded(
        self, what: str, key: str, to: str, create: Callable[[], Awaitable[Any]]
    ) -> tuple[str, str | None]:
        """One create request, cut off at the timeout, its failure said as retryable or not."""
        try:
            # The library's own timeout is never applied (twilio-python #925).
            async with asyncio.timeout(self._timeout_seconds):
                resource = await create()
        except TwilioRestException as exc:
            raise self._failed(what, key, to, exc.status, exc.code, exc.msg) from exc
        except TwilioServiceException as exc:
            detail = exc.detail or exc.title
            raise self._failed(what, key, to, exc.status, exc.code, detail) from exc
        except TimeoutError as exc:
            reason = f"Twilio did not answer within {self._timeout_seconds:g} s"
            raise self._failed(what, key, to, None, None, reason, retryable=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            reason = f"could not reach Twilio: {type(exc).__name__}: {exc}"
            raise self._failed(what, key, to, None, None, reason, retryable=True) from exc
        except ValueError as exc:  # a 2xx whose body is not JSON: the outcome is unknown
            reason = f"unreadable reply from Twilio: {exc}"
            raise self._failed(what, key, to, None, None, reason, retryable=True) from exc
        sid = resource.sid
        if not sid:
            reason = f"Twilio accepted the {what} but returned no sid"
            raise self._failed(what, key, to, None, None, reason, retryable=True)
        return str(sid), resource.status

    def _failed(
        self,
        what: str,
        key: str,
        to: str,
        status: int | None,
        code: int | None,
        reason: str,
        *,
        retryable: bool | None = None,
    ) -> NotificationError:
        permanent = refusal_for(code)
        if retryable is None:
            retryable = not permanent and (status is None or _retryable_status(status))
        detail = f"Twilio error {code}: {reason}" if code is not None else reason
        if status is not None:
            detail = f"HTTP {status}, {detail}"
        log.warning(
            "sms_failed" if what == "SMS" else "call_failed",
            key=key,
            to=masked_phone(to),
            status=status,
            code=code,
            retryable=retryable,
            permanent=permanent,
            reason=reason,
        )
        verb = "not sent" if what == "SMS" else "not placed"
        return NotificationError(
            f"{what} to {to} {verb} ({detail})", retryable=retryable, permanent=permanent, code=code
        )

    async def aclose(self) -> None:
        """Close the library's aiohttp session; safe to call more than once."""
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None
