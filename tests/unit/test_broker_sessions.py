"""The gateway's broker sessions are given to it at construction and made when MQTT starts
(no `bind` afterwards): none until opened, new links on each opening."""

from __future__ import annotations

import pytest

from device_gateway.links import Links
from device_gateway.sessions import BrokerSessions
from service.config import MqttEndpoint
from tests.conftest import free_port


async def test_no_links_until_opened_and_new_links_for_each_opening() -> None:
    sessions = BrokerSessions(
        MqttEndpoint("127.0.0.1", free_port()), client_id="lw-test", prefix="lwtest/"
    )
    assert (sessions.main, sessions.alarm) == (None, None), "a gateway built without MQTT"
    sessions.open(on_message=print, on_alarm=print)
    first = sessions.main
    try:
        with pytest.raises(RuntimeError, match="stop"):
            sessions.open(on_message=print, on_alarm=print)
    finally:
        await sessions.stop()
    sessions.open(on_message=print, on_alarm=print)
    try:
        assert sessions.main is not None and sessions.main is not first
        assert sessions.alarm is not None and not sessions.alarm.connected
    finally:
        await sessions.stop()


def test_an_alarm_link_needs_a_main_link_that_says_what_its_session_is() -> None:
    class Plain:
        def ack(self, mid: int, qos: int) -> None: ...
        def publish(
            self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
        ) -> None: ...

    class Session(Plain):
        connected, session_since, covered_since = True, 0.0, 0.0

    Links(Session(), alarm=Session())
    with pytest.raises(TypeError, match="session"):
        Links(Plain(), alarm=Session())
