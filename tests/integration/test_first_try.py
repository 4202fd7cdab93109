"""An SOS's first SMS waits for its try to be fenced and recorded: both are one job off the
loop, and the record reads the notification and its alert in one query, not one after the
other (service/workers/notification_tries.py, service/application/outbox.py). Seen at the
Twilio double; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from service.adapters.notifiers.twilio_notifier import TwilioNotifier
from service.application import outbox
from service.config import Settings
from service.container import Container
from simulators.twilio_double import TwilioDouble
from tests.console_world import devices
from tests.harness import eventually, service_in_process

ACCOUNT, AUTH = "AC" + "e" * 32, "first-try-token"
PUBLIC = "https://lonewatch.example.org"
READS = ("load", "load_optional", "load_many", "stored", "exists")


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[tuple[Container, TwilioDouble]]:
    async with TwilioDouble(ACCOUNT, AUTH) as double:
        notifier = TwilioNotifier(
            ACCOUNT, AUTH, "+441702999999", api_base=double.base_url, public_url=PUBLIC
        )
        settings = Settings(database_url=database_url, public_url=PUBLIC)
        async with service_in_process(settings, notifier=notifier, with_mqtt=False) as c:
            yield c, double


@contextmanager
def reads_while_recording_a_try(
    c: Container, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """The unit of work's store reads made inside `outbox.start_attempt`, by name."""
    asked: list[str] = []
    inside = threading.local()
    for name in READS:
        real = getattr(c.app, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if getattr(inside, "on", False):
                asked.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(c.app, name, counted)
    real_start = outbox.start_attempt

    def start_attempt(*args: Any, **kwargs: Any) -> bool:
        inside.on = True
        try:
            return real_start(*args, **kwargs)
        finally:
            inside.on = False

    monkeypatch.setattr(outbox, "start_attempt", start_attempt)
    yield asked


async def test_an_sos_first_try_is_recorded_from_one_read_of_the_store(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, double = service
    with reads_while_recording_a_try(c, monkeypatch) as asked:
        await asyncio.to_thread(devices(c).press, "sos-0001", "one-read-1")
        texts = await double.wait_for_messages(1)
    assert texts, "the SMS reached the double"
    assert asked and set(asked) == {"load_many"}, asked  # one read per try recorded


fenced_here: contextvars.ContextVar[bool] = contextvars.ContextVar("fenced_here", default=False)


class WatchedLease:
    """The outbox lease, its fence marked in the context of the job that asked it."""

    def __init__(self, lease: Any) -> None:
        self.lease = lease
        self.fenced = 0

    def held(self) -> bool:
        return bool(self.lease.held())

    def fence(self) -> bool:
        self.fenced += 1
        fenced_here.set(True)
        return bool(self.lease.fence())


async def test_the_try_is_recorded_in_the_same_job_as_the_fence_that_allowed_it(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No trip through the loop between the fence's answer and the record of the try: the
    record sees what the fence's job set (a job of its own would start from the loop's
    context again)."""
    c, double = service
    lease = WatchedLease(c.dispatcher.tries.lease or _AlwaysHeld())
    monkeypatch.setattr(c.dispatcher.tries, "lease", lease)
    seen: list[bool] = []
    real_start = outbox.start_attempt

    def start_attempt(*args: Any, **kwargs: Any) -> bool:
        seen.append(fenced_here.get())
        return real_start(*args, **kwargs)

    monkeypatch.setattr(outbox, "start_attempt", start_attempt)
    await asyncio.to_thread(devices(c).press, "sos-0001", "one-job-1")
    await double.wait_for_messages(1)
    await eventually(lambda: len(seen) >= len(double.messages), what="each try recorded")
    assert seen and all(seen), seen
    assert lease.fenced >= len(seen), "each try fenced before it was recorded"


class _AlwaysHeld:
    def held(self) -> bool:
        return True

    def fence(self) -> bool:
        return True
