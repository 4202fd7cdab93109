"""The link to an alarm receiving centre: one DC-09 frame out, one answer back, over TCP
or UDP. Knows the sequence number and the receiver's clock; not the retry policy (that is
the sender's, service/workers/arc_sender.py, which records every try)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from service.adapters.arc.dc09 import (
    PAD_ALPHABET,
    Answer,
    ArcAccount,
    Reply,
    SiaEvent,
    encode,
    next_sequence,
    parse_reply,
)

ANSWER_WITHIN = 5.0
"""Seconds to wait for the ARC's answer to one frame before the try counts as unanswered."""
NAK_SKEW_LIMIT = timedelta(hours=24)
"""A NAK's clock further from ours than this is not believed (a receiver with no clock)."""


class EndpointError(ValueError):
    """An ARC URL that is not `dc09+tcp://HOST:PORT` or `dc09+udp://HOST:PORT`."""


@dataclass(frozen=True)
class Endpoint:
    transport: Literal["tcp", "udp"]
    host: str
    port: int

    @staticmethod
    def parse(url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("dc09+tcp", "dc09+udp") or not parts.hostname:
            raise EndpointError(
                f"{url!r} must look like dc09+tcp://HOST:PORT or dc09+udp://HOST:PORT"
            )
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise EndpointError(f"{url!r} needs a port, like dc09+tcp://arc.example:5000")
        transport: Literal["tcp", "udp"] = "tcp" if parts.scheme == "dc09+tcp" else "udp"
        return Endpoint(transport, parts.hostname, port)

    def __str__(self) -> str:
        return f"dc09+{self.transport}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Exchange:
    """One try: the sequence it carried, the answer (None: silence or a refused
    connection, said in `error`), and how long it took."""

    sequence: int
    reply: Reply | None
    error: str | None
    seconds: float

    @property
    def acknowledged(self) -> bool:
        return self.reply is not None and self.reply.confirms(self.sequence)

    def describe(self) -> str:
        """The answer in a few words for the timeline."""
        if self.reply is None:
            return f"no answer ({self.error})"
        words = self.reply.answer.value
        if self.reply.answer is Answer.ACK and not self.acknowledged:
            words = f"ACK for another message (sequence {self.reply.sequence})"
        if self.reply.answer is Answer.NAK and self.reply.receiver_time is not None:
            words += f" (receiver's clock {self.reply.receiver_time:%H:%M:%S})"
        if self.reply.crc_ok is False:
            words += " (its CRC did not match: taken as said)"
        return f"{words} in {self.seconds * 1000:.0f} ms"


def random_pad(count: int = 16) -> str:
    return "".join(secrets.choice(PAD_ALPHABET) for _ in range(count))


class ArcLink:
    """One school's ARC. `now` is the service's clock; a NAK carrying the receiver's time
    sets the offset used for later frames, as DC-09 has the transmitter do (its timestamp
    must fall within the receiver's window, typically -20 s/+40 s)."""

    def __init__(
        self,
        endpoint: Endpoint,
        account: ArcAccount,
        *,
        now: Callable[[], datetime],
        answer_within: float = ANSWER_WITHIN,
        pad: Callable[[], str] = random_pad,
    ) -> None:
        self.endpoint = endpoint
        self.account = account
        self.now = now
        self.answer_within = answer_within
        self.pad = pad
        self.offset = timedelta(0)
        self._sequence = 0
        self._lock = asyncio.Lock()
        """One frame at a time on the link: answers are matched to frames by order."""

    def new_sequence(self) -> int:
        """The number a new message carries (its retries repeat it)."""
        self._sequence = next_sequence(self._sequence)
        return self._sequence

    async def send(self, event: SiaEvent | None, sequence: int) -> Exchange:
        """Send once (an event, or with None a supervision poll) and read the answer."""
        frame = encode(
            self.account,
            sequence=sequence,
            now=self.now() + self.offset,
            event=event,
            pad=self.pad(),
        )
        async with self._lock:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.answer_within):
                    data = await self._exchange(frame)
            except TimeoutError:
                return Exchange(
                    sequence, None, f"silence for {self.answer_within:g} s", _since(started)
                )
            except OSError as exc:
                return Exchange(sequence, None, exc.strerror or type(exc).__name__, _since(started))
        reply = parse_reply(data, self.account)
        if reply is None:
            return Exchange(sequence, None, f"unreadable answer {data[:40]!r}", _since(started))
        if reply.answer is Answer.NAK and reply.receiver_time is not None:
            skew = reply.receiver_time - self.now()
            if abs(skew) < NAK_SKEW_LIMIT:
                self.offset = skew
        return Exchange(sequence, reply, None, _since(started))

    async def _exchange(self, frame: bytes) -> bytes:
        if self.endpoint.transport == "udp":
            return await _udp_exchange(self.endpoint.host, self.endpoint.port, frame)
        reader, writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        try:
            writer.write(frame)
            await writer.drain()
            data = b""
            while b"\r" not in data:  # an answer ends with <CR>; some end with the connection
                chunk = await reader.read(1024)
                if not chunk:
                    break
                data += chunk
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not data.strip():
            raise ConnectionResetError("the ARC closed the connection without answering")
        return data


def _since(started: float) -> float:
    return time.monotonic() - started


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _udp_exchange(host: str, port: int, frame: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Answer, remote_addr=(host, port))
    try:
        transport.sendto(frame)
        return await protocol.reply
    finally:
        transport.close()
