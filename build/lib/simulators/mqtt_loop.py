"""One thread driving many paho clients through epoll.

paho's own network loop (`loop_start`) uses `select()`, which cannot watch a file
descriptor numbered 1024 or above, and gives every client a thread and a socket
pair: a fleet of a few hundred devices in one process stalls there. Here each
client is one socket in a `selectors` set, read when readable, written when it
wants to, and kept alive once a second.
"""

from __future__ import annotations

import contextlib
import selectors
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode


class SharedLoop:
    def __init__(self, name: str = "mqtt-shared-loop") -> None:
        self._selector = selectors.DefaultSelector()
        self._clients: list[mqtt.Client] = []
        self._adds: list[mqtt.Client] = []
        self._removes: list[mqtt.Client] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(self, client: mqtt.Client) -> None:
        """Drive a client that has just called `connect()` (its socket is open)."""
        with self._lock:
            self._adds.append(client)

    def remove(self, client: mqtt.Client) -> None:
        with self._lock:
            self._removes.append(client)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._selector.close()

    def _run(self) -> None:
        last_misc = time.monotonic()
        while not self._stop.is_set():
            self._apply_changes()
            if self._selector.get_map():
                for key, _ in self._selector.select(0.01):
                    client: mqtt.Client = key.data
                    if client.loop_read(max_packets=10) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        self._forget(client)
            else:
                time.sleep(0.01)
            for client in self._clients:
                if client.want_write():
                    client.loop_write()
            now = time.monotonic()
            if now - last_misc >= 1.0:
                last_misc = now
                for client in self._clients:
                    client.loop_misc()

    def _apply_changes(self) -> None:
        with self._lock:
            adds, self._adds = self._adds, []
            removes, self._removes = self._removes, []
        for client in adds:
            sock = client.socket()
            if sock is not None:
                self._selector.register(sock, selectors.EVENT_READ, client)
                self._clients.append(client)
        for client in removes:
            client.loop_write()  # flush a DISCONNECT
            self._forget(client)

    def _forget(self, client: mqtt.Client) -> None:
        with contextlib.suppress(KeyError, ValueError):
            for key in list(self._selector.get_map().values()):
                if key.data is client:
                    self._selector.unregister(key.fileobj)
            self._clients.remove(client)
