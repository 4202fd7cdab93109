"""The paho-mqtt 2.x client of the gateway: it only moves bytes.

A fixed client id and a persistent session mean messages that arrive while the
gateway is down wait at the broker, and messages it received but never
acknowledged come back (with DUP set) when the session resumes. So: acknowledge
only after the message is durably recorded (INTERFACES.md section 2).
"""

from __future__ import annotations

import math
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from device_gateway.inbound import InboundMessage
from device_gateway.paho_internals import BufferedClient, install, queue_pubacks, settled
from device_gateway.unacked_ids import UnackedIds
from service.config import MqttEndpoint
from service.logs import get_logger

install()  # PUBLISH packets decoded without rebuilding paho's property tables each time

KEEPALIVE_SECONDS: Final = 30
"""Short enough that the broker notices a dead gateway (after 1.5x) within a minute."""
RECONNECT_MIN_SECONDS: Final = 1
RECONNECT_MAX_SECONDS: Final = 10
SUBSCRIBE_QOS: Final = 1
RECEIVE_MAXIMUM: Final = 1000
STOP_SETTLE_SECONDS: Final = 2.0
"""How long a clean stop waits for the connection to settle (`paho_internals.settled`)
before it disconnects; 30-80 ms was seen after an SOS."""
NOT_UTF8: Final = "<topic is not UTF-8>"
"""The topic given for one that is not UTF-8. MQTT requires UTF-8 topics and Mosquitto
enforces it; a broker that does not would otherwise leave the message in flight for ever:
the gateway refuses it as a bad topic, and so acknowledges it."""


_CREDENTIALS_HINT = (
    "check the user and password in LW_MQTT_URL against the broker's password file "
    "(lonewatch mosquitto passwd writes it, docs/devices.md) and its ACL"
)
_REFUSAL_HINTS: Final = {
    134: _CREDENTIALS_HINT,  # Bad user name or password
    135: _CREDENTIALS_HINT,  # Not authorized (also 3.1.1's "not authorised")
    133: "another gateway has this client id: give each process its own LW_MQTT_CLIENT_ID",
    136: "the broker is not taking connections now",
    137: "the broker is busy; it is retried",
}
"""What to do about a refused CONNECT (MQTT 5 reason codes, which paho also gives for 3.1.1)."""


class MqttLink:
    """A persistent-session MQTT connection that reconnects and resubscribes by itself.

    `on_message` runs on paho's network thread: it must hand the message off
    (e.g. `loop.call_soon_threadsafe`) and return. `ack` and `publish` may be
    called from any thread. With `manual_ack` (the default) nothing is
    acknowledged until `ack` is called; an unacknowledged message is redelivered
    when the session resumes, never on a timer.
    """

    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        on_message: Callable[[InboundMessage], object],
        protocol: Literal["v5", "v311"] = "v5",
        session_expiry_seconds: int = 7 * 24 * 3600,
        manual_ack: bool = True,
        receive_maximum: int = RECEIVE_MAXIMUM,
    ) -> None:
        self._endpoint = endpoint
        self._subscriptions = tuple(subscriptions)
        self._deliver = on_message
        self._protocol = protocol
        self._session_expiry_seconds = session_expiry_seconds
        self._manual_ack = manual_ack
        self._receive_maximum = receive_maximum
        self._connected = threading.Event()
        self.why_not: str | None = None
        """Why the link is not connected, in words for health (None once connected)."""
        self._subscribe_mid: int | None = None
        self._state_lock = threading.Lock()
        self._started = False
        self._stopped = False
        # What this process knows of its broker session (time.monotonic()); see the
        # properties of the same names.
        self._session_since = -math.inf
        self._covered_since = -math.inf
        self._fresh_session = False
        self.stats: dict[str, int] = {
            "connects": 0,
            "disconnects": 0,
            "handler_errors": 0,
            "stale_acks": 0,
        }
        self._where = f"{endpoint.host}:{endpoint.port}"
        self._log = get_logger(__name__).bind(
            client_id=client_id, broker=self._where, protocol=protocol
        )
        self._unacked = UnackedIds(self.stats, self._log)
        """Delivered on the current connection, not yet acknowledged (unacked_ids.py)."""

        if protocol == "v5":
            self._client = BufferedClient(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=MQTTProtocolVersion.MQTTv5,
                manual_ack=manual_ack,
            )
        else:
            self._client = BufferedClient(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=MQTTProtocolVersion.MQTTv311,
                manual_ack=manual_ack,
            )
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            # mqtts://: the broker's certificate must chain to ca_file (or the system's CAs)
            # and name the host; a client certificate only if one is configured.
            self._client.tls_set(
                ca_certs=endpoint.ca_file,
                certfile=endpoint.cert_file,
                keyfile=endpoint.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        self._client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
        # A callback that raises must never end paho's network thread (no more
        # reconnects: every later alarm lost); paho logs it to "paho.mqtt.client".
        self._client.enable_logger()
        self._client.suppress_exceptions = True
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.take_publish = self._take_publish  # plain PUBLISHes without paho's machinery

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; the first connect is retried like any reconnect."""
        with self._state_lock:
            if self._started:
                raise RuntimeError("MqttLink.start() called twice; create a new link instead")
            self._started = True
        if self._protocol == "v5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_seconds
            # How many unacknowledged messages the broker may send us at once. We
            # acknowledge after a group commit, so a window of 20 (the broker's default
            # for 3.1.1 clients) would cap every group at 20 messages.
            properties.ReceiveMaximum = self._receive_maximum
            # clean_start=False on every connect, the first included: paho's default
            # (MQTT_CLEAN_START_FIRST_ONLY) would discard the session at each restart.
            self._client.connect_async(
                self._endpoint.host,
                self._endpoint.port,
                keepalive=KEEPALIVE_SECONDS,
                clean_start=False,
                properties=properties,
            )
        else:
            self._client.connect_async(
                self._endpoint.host, self._endpoint.port, keepalive=KEEPALIVE_SECONDS
            )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (the broker keeps the session) and end the network thread."""
        with self._state_lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
        deadline = time.monotonic() + STOP_SETTLE_SECONDS
        while (
            self._client.is_connected()
            and not settled(self._client)
            and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        """Connected, and the subscriptions of this connection confirmed by the broker."""
        return self._connected.is_set()

    @property
    def session_since(self) -> float:
        """When the broker last began a new session for us (CONNACK without a session
        present), as time.monotonic(); -inf while every connect of this process resumed
        a session the broker already had. No message in the session was published before."""
        return self._session_since

    @property
    def covered_since(self) -> float:
        """Since when our subscriptions have been in place at the broker without a gap:
        the SUBACK of the latest new session (-inf while sessions were resumed; +inf
        between a new session's CONNACK and its SUBACK, or when a subscription was
        refused). Every message published since then is queued for us."""
        return self._covered_since

    def wait_connected(self, timeout: float) -> bool:
        """True once connected and the broker has answered our SUBSCRIBE; False on timeout."""
        return self._connected.wait(timeout)

    # -- traffic ------------------------------------------------------------------

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a delivered message to the broker: only after it is durably recorded."""
        if qos == 0 or not self._manual_ack:
            return
        with self._unacked.lock:
            if self._unacked.take(mid):
                self._client.ack(mid, qos)

    def ack_all(self, messages: Sequence[tuple[int, int]]) -> None:
        """`ack` for each (mid, qos) of a group recorded together, in one write to the broker
        and one wake-up of paho's thread, rather than one of each per message."""
        if not self._manual_ack:
            return
        pubacks: list[int] = []
        with self._unacked.lock:
            for mid, qos in messages:
                if qos == 0 or not self._unacked.take(mid):
                    continue
                if qos == 1:
                    pubacks.append(mid)
                else:
                    self._client.ack(mid, qos)
            queue_pubacks(self._client, pubacks)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; while disconnected, QoS 1 and 2 wait in memory for the reconnect.

        Raises ValueError for a topic with wildcards or an empty topic (paho's check).
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._log.error("mqtt_publish_failed", topic=topic, rc=mqtt.error_string(info.rc))
        elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos == 0:
            self._log.warning("mqtt_publish_dropped", topic=topic, why="not connected, qos 0")

    # -- paho callbacks (paho's network thread) -------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            hint = _REFUSAL_HINTS.get(reason_code.value, "see the broker's log")
            self.why_not = f"the broker refused the connection: {reason_code} ({hint})"
            self._log.warning(
                "mqtt_connect_refused",
                reason=str(reason_code),
                reason_code=reason_code.value,
                what_to_do=hint,
            )
            return
        self.why_not = None
        self._unacked.cleared()
        self._fresh_session = not flags.session_present
        if self._fresh_session:
            self._session_since = time.monotonic()
            self._covered_since = math.inf
        self.stats["connects"] += 1
        self._log.info(
            "mqtt_connected",
            reason=str(reason_code),
            reason_code=reason_code.value,
            session_present=flags.session_present,
            connects=self.stats["connects"],
        )
        if not self._subscriptions:
            if self._fresh_session:
                self._covered_since = time.monotonic()
            self._connected.set()
            return
        # Resubscribe every time: harmless on a resumed session, essential on a new one.
        _, self._subscribe_mid = client.subscribe(self._subscription_requests())

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.why_not = f"broker {self._where} unreachable; retrying"
        self._log.warning("mqtt_connect_failed", why="broker unreachable; retrying")

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stopped and self.why_not is None:
            self.why_not = f"disconnected: {reason_code}; reconnecting"
        self.stats["disconnects"] += 1
        log = self._log.info if self._stopped else self._log.warning
        log(
            "mqtt_disconnected",
            reason=str(reason_code),
            reason_code=reason_code.value,
            requested=self._stopped,
            disconnects=self.stats["disconnects"],
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = False
        for topic, granted in zip(self._subscriptions, reason_codes, strict=False):
            if granted.is_failure:
                refused = True
                self._log.error(
                    "mqtt_subscribe_refused",
                    topic=topic,
                    reason=str(granted),
                    reason_code=granted.value,
                )
        if refused:
            self._covered_since = math.inf
        elif self._fresh_session:
            self._covered_since = time.monotonic()
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """What paho reads itself (a PUBLISH with properties, before the first whole one)."""
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = NOT_UTF8
        self._received(topic, bytes(message.payload), message.mid, message.qos, bool(message.dup))

    def _take_publish(self, topic: bytes, payload: bytes, mid: int, qos: int, dup: bool) -> None:
        """A plain PUBLISH read from paho's buffer (device_gateway/paho_internals.py, 4.)."""
        try:
            text = topic.decode("utf-8")
        except UnicodeDecodeError:
            text = NOT_UTF8
        self._received(text, payload, mid, qos, dup)

    def _received(self, topic: str, payload: bytes, mid: int, qos: int, dup: bool) -> None:
        inbound = InboundMessage(topic, payload, mid, qos, dup)
        if qos > 0 and self._manual_ack:
            self._unacked.delivered(mid)
        try:
            self._deliver(inbound)
        except Exception:
            # Left unacknowledged: the broker redelivers it when the session resumes.
            # Raising would end paho's network thread and, with it, the gateway.
            self.stats["handler_errors"] += 1
            self._log.exception("mqtt_handler_failed", topic=inbound.topic, mid=inbound.mid)

    def _subscription_requests(
        self,
    ) -> list[tuple[str, int]] | list[tuple[str, SubscribeOptions]]:
        if self._protocol == "v311":
            return [(topic, SUBSCRIBE_QOS) for topic in self._subscriptions]
        # noLocal: do not hand us back our own publishes (the cmd topics match our
        # filter). MQTT 5 makes noLocal on a shared subscription a protocol error.
        # Retain handling 2: no stored retained message at subscribe. We subscribe at every
        # connect, and a device that set the retain flag by mistake would otherwise have its
        # last message replayed then, as if new: a stale heartbeat would show a dead fob as
        # alive, an id-less SOS would raise again (docs/devices.md, "QoS, the retain flag and size").
        return [
            (
                topic,
                SubscribeOptions(
                    qos=SUBSCRIBE_QOS,
                    noLocal=not topic.startswith("$share/"),
                    retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND,
                ),
            )
            for topic in self._subscriptions
        ]
