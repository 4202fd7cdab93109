"""paho MQTT clients driven by the running asyncio loop: thousands in one process.

paho's own `loop_start` gives every client a thread, a socket pair and a `select()`
that cannot watch a descriptor numbered 1024 or above. paho also offers an external
loop (`loop_read` / `loop_write` / `loop_misc` and the `on_socket_*` callbacks): here
the asyncio loop watches each client's one socket, and one task keeps them all alive.
This replaces a hand-written MQTT client (measured in docs/performance.md, "Fleet").
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import threading
import weakref
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

_KEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[mqtt.Client]] = (
    weakref.WeakKeyDictionary()
)


def _keep_alive(client: mqtt.Client) -> None:
    """Register `client` for `loop_misc` once a second, one task per event loop."""
    loop = asyncio.get_running_loop()
    clients = _KEEPERS.get(loop)
    if clients is None:
        clients = _KEEPERS[loop] = set()

        async def tick(clients: set[mqtt.Client]) -> None:
            while clients:
                await asyncio.sleep(1.0)
                for each in list(clients):
                    each.loop_misc()
            _KEEPERS.pop(loop, None)

        clients.add(client)
        loop.create_task(tick(clients))  # noqa: RUF006 - ends when the last client closes
    else:
        clients.add(client)


class AsyncMqtt:
    """One paho client on the running loop. `publish` returns a future that completes on
    the broker's PUBACK (QoS 1), so a caller can count what the broker took."""

    def __init__(self, client_id: str, *, max_inflight: int = 20) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self.client_id = client_id
        self.on_message: Callable[[str, bytes], None] | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._connack: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.client.on_socket_open = self._socket_open
        self.client.on_socket_close = self._socket_close
        self.client.on_socket_register_write = self._want_write
        self.client.on_socket_unregister_write = self._done_writing
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 60,
        max_inflight: int = 20,
        within: float = 30.0,
    ) -> AsyncMqtt:
        """Connected and acknowledged (CONNACK), or ConnectionError / TimeoutError."""
        self = cls(client_id, max_inflight=max_inflight)
        if username is not None:
            self.client.username_pw_set(username, password)
        try:
            async with asyncio.timeout(within):
                await asyncio.to_thread(self.client.connect, host, port, keepalive)
                _keep_alive(self.client)
                await self._connack
        except BaseException:
            self.close()
            raise
        return self

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Send at QoS 1; the future completes when the broker has taken responsibility."""
        info = self.client.publish(topic, payload, qos=1)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            raise ConnectionError(f"{self.client_id}: not connected")
        future = self._loop.create_future()
        self._waiting[info.mid] = future
        return future

    async def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        if mid is None:
            raise ConnectionError(f"{self.client_id}: not connected")
        future = self._loop.create_future()
        self._waiting[mid] = future
        await future

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def close(self) -> None:
        """Send DISCONNECT (if connected) and let go of the socket."""
        if self.client.is_connected():
            self.client.disconnect()
            self.client.loop_write()
        sock = self.client.socket()
        if sock is not None:
            self._forget(sock)
            with contextlib.suppress(OSError):
                sock.close()
        _KEEPERS.get(self._loop, set()).discard(self.client)
        self._fail(ConnectionError(f"{self.client_id}: closed"))

    # -- paho's external loop ---------------------------------------------------------

    def _on_loop(self, watch: Callable[..., None], sock: Any, callback: Callable[[], Any]) -> None:
        """Watch `sock` now if on the loop's thread, else soon (connect runs in a worker
        thread); by then the socket may be gone."""

        def now() -> None:
            if sock.fileno() != -1:
                watch(sock, callback)

        if threading.get_ident() == self._thread:
            now()
        else:
            self._loop.call_soon_threadsafe(now)

    def _socket_open(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._on_loop(self._loop.add_reader, sock, lambda: client.loop_read(100))

    def _socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._forget(sock)
        self._fail(ConnectionError(f"{self.client_id}: connection closed"))

    def _want_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._on_loop(self._loop.add_writer, sock, client.loop_write)

    def _done_writing(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(sock)

    def _forget(self, sock: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _fail(self, error: Exception) -> None:
        for future in (self._connack, *self._waiting.values()):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: nobody may be waiting any more
        self._waiting.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- paho callbacks (on the loop's thread) -------------------------------------------

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if self._connack.done():
            return
        if reason.is_failure:
            self._connack.set_exception(
                ConnectionError(f"broker refused {self.client_id}: {reason}")
            )
        else:
            self._connack.set_result(None)

    def _on_disconnect(self, *_: Any) -> None:
        self._fail(ConnectionError(f"{self.client_id}: disconnected"))

    def _settle(self, mid: int) -> None:
        future = self._waiting.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        self._settle(mid)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        self._settle(mid)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_message is not None:
            self.on_message(message.topic, bytes(message.payload))


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never past the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft
