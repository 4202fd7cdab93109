"""The gateway's two broker sessions: alarms (sos, fall) have a queue and an in-flight
window of their own at the broker, so an SOS never waits behind a heartbeat backlog.

The alarm session subscribes first: from its SUBACK on, every alarm is queued for it,
whatever the main session does. The main session then acknowledges alarm kinds without
recording them, but only while the gateway knows the alarm session has them too
(`Gateway._alarm_session_covers`); else it records them itself (docs/gateway.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, Literal

from device_gateway.inbound import InboundMessage
from device_gateway.messages import alarm_subscriptions, main_subscriptions
from device_gateway.mqtt_link import MqttLink
from service.config import MqttEndpoint
from service.logs import get_logger

log = get_logger(__name__)

ALARM_SESSION_FIRST_WAIT: Final = 10.0
"""How long the main session waits at start-up for the alarm session to subscribe."""

Receive = Callable[[InboundMessage], object]


class BrokerSessions:
    """The two `MqttLink`s, made when opened (a paho client is started once) and until then
    none: what the gateway reads as its `Sessions`, and health as the broker's state."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        client_id: str,
        prefix: str,
        share_group: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.prefix = prefix
        self.share_group = share_group
        # The embedded broker (amqtt) speaks MQTT 3.1.1 only (FIELD-NOTES "Brokers").
        self.protocol: Literal["v5", "v311"] = "v311" if endpoint.embedded else "v5"
        self._main: MqttLink | None = None
        self._alarm: MqttLink | None = None
        self._stopped = False

    @property
    def main(self) -> MqttLink | None:
        return self._main

    @property
    def alarm(self) -> MqttLink | None:
        return self._alarm

    def open(self, *, on_message: Receive, on_alarm: Receive) -> None:
        """Make both links and start the alarm session; `start_main` starts the other.
        Open again only after `stop` (a paho client is started once: new links each time)."""
        if self._main is not None and not self._stopped:
            raise RuntimeError("BrokerSessions.open() while open; stop() them first")
        self._stopped = False
        self._alarm = MqttLink(
            self.endpoint,
            client_id=f"{self.client_id}-alarm",
            subscriptions=alarm_subscriptions(self.prefix, self.share_group),
            on_message=on_alarm,
            protocol=self.protocol,
        )
        self._main = MqttLink(
            self.endpoint,
            client_id=self.client_id,
            subscriptions=main_subscriptions(self.prefix, self.share_group),
            on_message=on_message,
            protocol=self.protocol,
        )
        self._alarm.start()

    async def start_main(self) -> None:
        """Start the main session once the alarm session has subscribed (or has not after
        ALARM_SESSION_FIRST_WAIT: then the main session records alarms itself until the
        gateway knows the alarm session has them). Polls, so shutdown can cancel it (and
        `stop` is called again after cancelling, in case it had just started the link)."""
        alarm, main = self._alarm, self._main
        if alarm is None or main is None:
            raise RuntimeError("open() the sessions first")
        deadline = asyncio.get_running_loop().time() + ALARM_SESSION_FIRST_WAIT
        while not alarm.connected:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("alarm_session_not_ready", waited=ALARM_SESSION_FIRST_WAIT)
                break
            await asyncio.sleep(0.02)
        main.start()

    async def stop(self) -> None:
        """Disconnect both (the broker keeps the sessions); safe to call again."""
        self._stopped = True
        for link in (self._main, self._alarm):
            if link is not None:
                await asyncio.to_thread(link.stop)
