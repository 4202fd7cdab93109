"""What the gateway needs of a broker connection, and the sessions it is given.

The gateway acknowledges and publishes on links that exist only while MQTT runs, while
the links deliver to the gateway: a genuine cycle of objects. It is broken by handing the
gateway, at construction, a `Sessions`, which answers which links there are now
(`BrokerSessions` once started, `Links` for links made beforehand); the links are given
the gateway's `receive_*` callbacks when they are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class Link(Protocol):
    def ack(self, mid: int, qos: int) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


@runtime_checkable
class GroupAckLink(Link, Protocol):
    """A link that acknowledges a group's (mid, qos) pairs at once (MqttLink does)."""

    def ack_all(self, messages: Sequence[tuple[int, int]]) -> None: ...


@runtime_checkable
class SessionLink(Link, Protocol):
    """A link that says what it knows of its broker session (MqttLink does)."""

    @property
    def connected(self) -> bool: ...
    @property
    def session_since(self) -> float: ...
    @property
    def covered_since(self) -> float: ...


class Sessions(Protocol):
    """The links as they stand: `main` takes every device message; `alarm`, when there is
    one, only sos and fall (docs/gateway.md, "Two sessions")."""

    @property
    def main(self) -> Link | None: ...
    @property
    def alarm(self) -> SessionLink | None: ...


@dataclass(frozen=True)
class Links:
    """Links made before the gateway (tests; no links at all when MQTT is off).

    With an alarm link, alarm kinds reaching `main` are acknowledged there without being
    recorded, but only while the alarm session is known to have them queued too.
    """

    main: Link | None = None
    alarm: SessionLink | None = None

    def __post_init__(self) -> None:
        if self.alarm is not None and not isinstance(self.main, SessionLink):
            raise TypeError("with an alarm link, the main link must say what its session is")
