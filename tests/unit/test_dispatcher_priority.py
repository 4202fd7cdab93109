"""The dispatcher keeps an alarm's notification ahead of bulk writes until its first try
is recorded, and no longer: the send itself (an HTTP request that may take seconds) must
not hold heartbeats back. A scripted application and notifier; ordering, not timing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast
from uuid import uuid4

import pytest

from service.adapters.alarm_priority import AlarmPriority
from service.application import outbox
from service.workers.dispatcher import Dispatcher
from tests.harness import eventually


class Notifier:
    def __init__(self, priority: AlarmPriority) -> None:
        self.priority = priority
        self.under_way_at_send: list[int] = []
        self.may_answer = asyncio.Event()

    async def send_sms(self, *, to: str, body: str, key: str) -> str:
        self.under_way_at_send.append(self.priority.under_way)
        await self.may_answer.wait()
        return "SM1"


class App:
    """Nothing is stored: the outbox's use cases are replaced by the test."""


def notification() -> Any:
    channel = SimpleNamespace(value="sms")
    return SimpleNamespace(
        id=uuid4(), alert_id=uuid4(), to="+447700900001", body="SOS", channel=channel, attempts=0
    )


async def test_an_alarm_notification_is_under_way_until_its_first_try_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    priority = AlarmPriority()
    notifier = Notifier(priority)
    seen_while_recording: list[int] = []

    def start_attempt(app: Any, notification_id: Any, **_: Any) -> bool:
        seen_while_recording.append(priority.under_way)
        return True

    monkeypatch.setattr(outbox, "start_attempt", start_attempt)
    monkeypatch.setattr(outbox, "record_sent", lambda *_args: None)
    dispatcher = Dispatcher(
        cast(Any, App()), cast(Any, None), cast(Any, notifier), priority=priority
    )
    dispatcher.submit_requested([notification()])
    assert priority.under_way == 1, "not under way from the hand-over on"
    await eventually(lambda: notifier.under_way_at_send, what="the SMS requested")
    assert seen_while_recording == [1]
    assert notifier.under_way_at_send == [0], "bulk writes held back during the send"
    notifier.may_answer.set()
    await eventually(lambda: dispatcher.sending == 0, what="the notification settled")
    assert priority.under_way == 0


async def test_a_notification_stopped_before_its_first_try_is_no_longer_under_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    priority = AlarmPriority()
    dispatcher = Dispatcher(
        cast(Any, App()), cast(Any, None), cast(Any, Notifier(priority)), priority=priority
    )
    dispatcher.submit_requested([notification(), notification()])
    assert priority.under_way == 2
    await dispatcher.stop()  # before either task has run
    assert priority.under_way == 0
