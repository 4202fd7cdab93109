"""A local double of Twilio's REST API that the real `twilio` library can talk to.

It serves the two create calls Lonewatch makes (Messages.json, Calls.json) with
Twilio-shaped JSON, checks HTTP basic auth, records every request, and can be
scripted to fail or stall. Scripted outcomes can also play out what Twilio does
next, signed with the account's auth token as Twilio signs: status callbacks to
the StatusCallback URL (delivered, undelivered, no answer), and for calls the
fetch of the TwiML Url (by a person, or by an answering machine) and a key
press POSTed to the <Gather> action. Tests drive it through `TwilioDouble`;
anything else (a demo, a browser) through `/_double/...`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import html
import json
import re
import secrets
import signal
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from simulators.twilio_double_page import sent_page
from simulators.twilio_wire import (
    API,
    FAILURES,
    OUTCOMES,
    PLAYED,
    REFUSALS,
    REQUIRED,
    Kind,
    Outcome,
    created_resource,
    error_response,
    gather_action,
)


class TwilioDouble:
    """Twilio's REST API for one account, in process. `start()` returns its base URL."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._records: dict[Kind, list[dict[str, Any]]] = {"messages": [], "calls": []}
        self._plan: dict[Kind, deque[Outcome]] = {"messages": deque(), "calls": deque()}
        self.delay_seconds = 3.0
        self._recorded = asyncio.Condition()
        self.callbacks: list[dict[str, Any]] = []
        self._called = asyncio.Condition()
        """Every request the double made to the service: url, form, status (or error)."""
        self.default_outcomes: dict[Kind, Outcome] = {"messages": "ok", "calls": "ok"}
        self._refused: dict[tuple[Kind, str], int] = {}
        self._answers: dict[tuple[Kind, str], Outcome] = {}
        self._playing: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.replies: list[dict[str, str]] = []
        """What the service answered each text a phone sent it (`phone_texts`), in order."""
        self._inbound = 0
        self._last_inbound: tuple[str, dict[str, str]] | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every request to Messages.json, in order, failed and unauthorised ones included."""
        return list(self._records["messages"])

    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self._records["calls"])

    def script(
        self,
        messages: Sequence[Outcome] = (),
        calls: Sequence[Outcome] = (),
        delay_seconds: float | None = None,
    ) -> None:
        """Set the outcomes of the next requests of each kind; once used up, requests succeed."""
        for outcome in (*messages, *calls):
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}; use one of {sorted(OUTCOMES)}")
        self._plan = {"messages": deque(messages), "calls": deque(calls)}
        if delay_seconds is not None:
            self.delay_seconds = delay_seconds

    def refuse(self, number: str, code: int, kinds: Sequence[Kind] = ("messages", "calls")) -> None:
        """From now on every request of these kinds to `number` is refused with Twilio's
        error `code` (one of REFUSALS: an invalid number, a STOP, a landline for SMS)."""
        if code not in REFUSALS:
            raise ValueError(f"unknown refusal {code}; use one of {sorted(REFUSALS)}")
        for kind in kinds:
            self._refused[(kind, number)] = code

    def answer(
        self, number: str, outcome: Outcome, kinds: Sequence[Kind] = ("messages", "calls")
    ) -> None:
        """From now on every request of these kinds to `number` plays `outcome`, whatever the
        script says (a demo's DSL who always presses 1; a desk that never picks up)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use one of {sorted(OUTCOMES)}")
        for kind in kinds:
            self._answers[(kind, number)] = outcome

    def reset(self) -> None:
        for records in self._records.values():
            records.clear()
        self.callbacks.clear()
        self._refused.clear()
        self._answers.clear()
        self.script()

    # A timeout argument (ASYNC109) keeps each test's wait a one-liner with a safe default.
    async def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until `n` requests to Messages.json have been recorded; TimeoutError if not."""
        return await self._wait_for("messages", n, timeout)

    async def wait_for_calls(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        return await self._wait_for("calls", n, timeout)

    async def _wait_for(self, kind: Kind, n: int, timeout: float) -> list[dict[str, Any]]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self._recorded:
            await self._recorded.wait_for(lambda: len(self._records[kind]) >= n)
        return list(self._records[kind])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API + "/Messages.json", self._create_message)
        app.router.add_post(API + "/Calls.json", self._create_call)
        app.router.add_get("/_double/{kind:messages|calls}", self._list)
        app.router.add_get("/_double/", self._page)
        app.router.add_post("/_double/reset", self._reset)
        app.router.add_post("/_double/behaviour", self._behaviour)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._stopping.clear()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()  # ends any scripted delay, so shutdown never waits on it
        for task in list(self._playing):
            task.cancel()
        await asyncio.gather(*self._playing, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TwilioDouble:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        return await self._create("messages", request)

    async def _create_call(self, request: web.Request) -> web.StreamResponse:
        return await self._create("calls", request)

    async def _create(self, kind: Kind, request: web.Request) -> web.StreamResponse:
        form = {key: str(value) for key, value in (await request.post()).items()}
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "received_monotonic": time.monotonic(),
            "received_at": now.isoformat(),
            "path": request.path,
            "form": form,
            "authorized": self._authorized(request),
        }
        # A request Twilio would refuse anyway (auth, account, fields) leaves the script alone.
        response = self._rejection(kind, request, form, authorized=record["authorized"])
        outcome: Outcome | None = None
        if response is None:
            outcome = self._answers.get((kind, form.get("To", ""))) or (
                self._plan[kind].popleft() if self._plan[kind] else self.default_outcomes[kind]
            )
            response = self._scripted(kind, form, outcome, now)
            record["sid"] = json.loads(response.text or "{}").get("sid")
            if outcome in PLAYED:
                sid = record["sid"]
                task = asyncio.get_running_loop().create_task(self._play(kind, sid, form, outcome))
                self._playing.add(task)
                task.add_done_callback(self._playing.discard)
        record |= {"outcome": outcome, "status": response.status}
        async with self._recorded:
            self._records[kind].append(record)
            self._recorded.notify_all()
        if outcome == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.delay_seconds)
        return response

    async def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until the double has made `n` requests to the service."""
        async with asyncio.timeout(timeout), self._called:
            await self._called.wait_for(lambda: len(self.callbacks) >= n)
        return list(self.callbacks)

    async def _post(self, url: str, form: dict[str, str]) -> str | None:
        """POST `form` to the service as Twilio does, signed; returns the body (or None)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        signature = RequestValidator(self._auth_token).compute_signature(url, form)
        record: dict[str, Any] = {"url": url, "form": form}
        try:
            async with self._session.post(
                url, data=form, headers={"X-Twilio-Signature": signature}
            ) as response:
                record["status"] = response.status
                text = await response.text()
                record["body"] = text
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            text = None
        async with self._called:
            self.callbacks.append(record)
            self._called.notify_all()
        return text

    async def phone_texts(self, url: str, sender: str, body: str, to: str = "") -> str | None:
        """A phone texts the service: Twilio posts the inbound SMS to the webhook at `url`
        (signed) and sends the TwiML `<Message>` it answers back to the phone. Returns that
        reply (None: the service answered with no message); each is kept in `replies`."""
        self._inbound += 1
        form = {"From": sender, "To": to, "Body": body, "MessageSid": f"SMin{self._inbound:06d}"}
        self._last_inbound = (url, form)
        return await self._deliver(url, form)

    async def retries_last_text(self) -> str | None:
        """Twilio posts the last inbound text again, same MessageSid (as it does when the
        webhook timed out), and sends the phone whatever the service answers this time."""
        assert self._last_inbound is not None, "no text was sent to retry"
        return await self._deliver(*self._last_inbound)

    @property
    def last_inbound_sid(self) -> str | None:
        """The MessageSid of the last text a phone sent the service (None: none yet)."""
        return self._last_inbound[1]["MessageSid"] if self._last_inbound else None

    async def _deliver(self, url: str, form: dict[str, str]) -> str | None:
        answered = await self._post(url, form)
        found = re.search(r"<Message>(.*?)</Message>", answered or "", re.DOTALL)
        reply = html.unescape(found[1]) if found else None
        if reply is not None:
            self.replies.append({"to": form["From"], "body": reply, "in_reply_to": form["Body"]})
        return reply

    async def _play(self, kind: Kind, sid: str, form: dict[str, str], outcome: str) -> None:
        """What Twilio would do next for an accepted message or call."""
        callback = form.get("StatusCallback")
        base = {"AccountSid": self.account_sid, "From": form["From"], "To": form["To"]}
        if kind == "messages":
            for status in PLAYED[outcome]:
                if callback:
                    await self._post(callback, base | {"MessageSid": sid, "MessageStatus": status})
            return
        call = base | {"CallSid": sid, "Direction": "outbound-api"}
        answered_by = "machine_end_beep" if outcome == "voicemail" else "human"
        for status in PLAYED[outcome]:
            fields = call | {"CallStatus": status}
            if status in ("in-progress", "completed"):
                fields["AnsweredBy"] = answered_by
            if callback:
                await self._post(callback, fields)
            if status == "in-progress" and form.get("Url"):
                twiml = await self._post(
                    form["Url"], call | {"CallStatus": status, "AnsweredBy": answered_by}
                )
                action = gather_action(twiml)
                if outcome == "pressed" and action:
                    await self._post(action, call | {"CallStatus": status, "Digits": "1"})

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            return False
        expected = f"{self.account_sid}:{self._auth_token}".encode()
        return scheme.lower() == "basic" and secrets.compare_digest(given, expected)

    def _rejection(
        self, kind: Kind, request: web.Request, form: dict[str, str], *, authorized: bool
    ) -> web.Response | None:
        if not authorized:
            return error_response(401, 20003, "Authenticate")
        if request.match_info["account_sid"] != self.account_sid:
            return error_response(
                404, 20404, f"The requested resource {request.path} was not found"
            )
        for fields, code, message in REQUIRED[kind]:
            if not any(form.get(field) for field in fields):
                return error_response(400, code, message)
        refused = self._refused.get((kind, form.get("To", "")))
        if refused is not None:
            status, message = REFUSALS[refused]
            return error_response(status, refused, message.format(to=form["To"]))
        return None

    def _scripted(
        self, kind: Kind, form: dict[str, str], outcome: Outcome, now: datetime
    ) -> web.Response:
        if outcome in FAILURES:
            status, code, message = FAILURES[outcome]
            return error_response(status, code, message.format(to=form["To"]))
        return web.json_response(created_resource(kind, self.account_sid, form, now), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        kind: Kind = "messages" if request.match_info["kind"] == "messages" else "calls"
        return web.json_response(self._records[kind])

    async def _page(self, _: web.Request) -> web.Response:
        """What was texted and called, newest first, for a person watching a demo."""
        return web.Response(
            text=sent_page(self.messages, self.calls, self.callbacks), content_type="text/html"
        )

    async def _reset(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _behaviour(self, request: web.Request) -> web.Response:
        """Body: {"messages": [outcome, ...], "calls": [...], "delay_seconds": 3,
        "refuse": [{"to": "+44...", "code": 21610}, ...]}."""
        try:
            body = await request.json()
            for refusal in body.get("refuse", []):
                self.refuse(str(refusal["to"]), int(refusal["code"]))
            delay = body.get("delay_seconds")
            self.script(
                messages=body.get("messages", []),
                calls=body.get("calls", []),
                delay_seconds=None if delay is None else float(delay),
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise web.HTTPBadRequest(
                text=f"expected {{'messages': [...], 'calls': [...], 'delay_seconds': n}} "
                f"with outcomes from {sorted(OUTCOMES)}: {exc}"
            ) from exc
        planned = {kind: list(plan) for kind, plan in self._plan.items()}
        return web.json_response(planned | {"delay_seconds": self.delay_seconds})


async def _serve(host: str, port: int, account_sid: str, auth_token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signum, stop.set)
    double = TwilioDouble(account_sid, auth_token)
    print(await double.start(host, port), flush=True)
    try:
        await stop.wait()
    finally:
        await double.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local double of Twilio's REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="test-auth-token")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.account_sid, args.auth_token))


if __name__ == "__main__":
    main()
