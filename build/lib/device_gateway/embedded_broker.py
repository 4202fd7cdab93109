"""An in-process MQTT broker (amqtt 0.12) for `LW_MQTT_URL=embedded`: no Mosquitto needed."""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

from service.logs import get_logger

log = get_logger(__name__)

# amqtt logs every connection at INFO, and its state machine (transitions) every step.
_CHATTY_LOGGERS = ("amqtt", "transitions")


class EmbeddedBroker:
    """amqtt on one plain TCP listener, anonymous clients allowed, no websockets, no $SYS.

    For trying Lonewatch out, never for the no-loss path. Known limits of amqtt 0.12
    (FIELD-NOTES "Brokers"):
    - MQTT 3.1.1 only: connect with `MqttLink(..., protocol="v311")`.
    - No redelivery of unacknowledged QoS 1 messages after a reconnect (Yakifo/amqtt#401),
      and anonymous clients get no persistent session: what was in flight or sent while
      the gateway was down is lost. Devices repeating an SOS until `alert_received`
      is what covers it.
    - `$share/` subscriptions are accepted but deliver nothing.

    Create and start it inside a running event loop (amqtt binds to that loop).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1884) -> None:
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Only the plugin that admits clients: amqtt's defaults also log every
            # event and packet and publish $SYS topics every 20 s.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    async def start(self) -> None:
        """Bind the listener; raises `amqtt.errors.BrokerError` if the port is taken."""
        if self._broker is not None:
            raise RuntimeError("EmbeddedBroker.start() called twice; stop() it first")
        for name in _CHATTY_LOGGERS:
            chatty = logging.getLogger(name)
            if chatty.level == logging.NOTSET:  # leave a level someone chose alone
                chatty.setLevel(logging.WARNING)
        broker = Broker(self._config())
        await broker.start()
        self._broker = broker
        log.info("embedded_broker_started", host=self.host, port=self.port, protocol="3.1.1")

    async def stop(self) -> None:
        """Close every client session and the listener; the port is free afterwards."""
        broker, self._broker = self._broker, None
        if broker is None:
            return
        await broker.shutdown()
        log.info("embedded_broker_stopped", host=self.host, port=self.port)
