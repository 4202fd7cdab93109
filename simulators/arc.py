"""An alarm receiving centre (ARC) to send to: pysiaalarm's DC-09 receiver (the one Home
Assistant's SIA integration uses), on a port of its own, keeping what it received.

    python -m simulators.arc --port 5000 --account 4271 [--key 0123456789ABCDEF] [--udp]

prints each event as the ARC would see it; tests and scenarios use `ArcReceiver` in-process.
It answers as pysiaalarm does: ACK, NAK for a timestamp outside its window (-40 s/+20 s),
DUH for a code it does not know.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pysiaalarm.account import SIAAccount
from pysiaalarm.aio.client import SIAClient
from pysiaalarm.event import SIAEvent
from pysiaalarm.utils.enums import CommunicationsProtocol

if TYPE_CHECKING:
    from simulators.scenarios import ScenarioResult, ScenarioRun


@dataclass
class Received:
    """One event the ARC accepted (and ACKed), with when it arrived (monotonic)."""

    event: SIAEvent
    at: float

    @property
    def code(self) -> str | None:
        return self.event.code

    @property
    def extended(self) -> dict[str, str]:
        return {x.identifier: str(x.value) for x in self.event.extended_data or []}


@dataclass
class ArcReceiver:
    account: str = "4271"
    key: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    """0: a free port, chosen when started."""
    udp: bool = False
    received: list[Received] = field(default_factory=list)
    _client: Any = None
    _arrived: asyncio.Condition | None = None

    @property
    def url(self) -> str:
        return f"dc09+{'udp' if self.udp else 'tcp'}://{self.host}:{self.port}"

    def directory_entry(self) -> dict[str, Any]:
        """The school's `arc:` entry that points at this receiver."""
        entry: dict[str, Any] = {"url": self.url, "account": self.account}
        if self.key:
            entry["key"] = self.key
        return entry

    @property
    def counts(self) -> dict[str, int]:
        """pysiaalarm's own counters: events, valid_events, and errors by kind (crc, format,
        timestamp, account, code)."""
        return dict(vars(self._client.counts)) if self._client is not None else {}

    async def start(self) -> None:
        self._arrived = asyncio.Condition()
        if not self.port:
            self.port = _free_port(self.udp)
        # pysiaalarm picks its TCP or UDP class in `SIAClient.__new__` from `protocol`.
        self._client = SIAClient(  # type: ignore[abstract]
            self.host,
            self.port,
            [SIAAccount(self.account, self.key)],
            self._on_event,
            protocol=CommunicationsProtocol.UDP if self.udp else CommunicationsProtocol.TCP,
        )
        await self._client.async_start()
        if self.udp:
            # pysiaalarm 3.2's UDP server asserts the transport is an asyncio.DatagramTransport,
            # which Python 3.11's selector transport is not: it then answers nothing. Give it
            # the transport it was made with.
            self._client.sia_server.transport = self._client.transport

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.async_stop()
            self._client = None

    async def __aenter__(self) -> ArcReceiver:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _on_event(self, event: SIAEvent) -> None:
        self.received.append(Received(event, time.monotonic()))
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()

    async def wait_for(self, code: str) -> Received:
        """The first event with this code, waiting for it if need be (the caller bounds
        the wait with `asyncio.timeout`)."""
        assert self._arrived is not None
        async with self._arrived:
            while True:
                for r in self.received:
                    if r.code == code:
                        return r
                await self._arrived.wait()


def _free_port(udp: bool) -> int:
    import socket

    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def arc_receiver(**options: Any) -> AsyncIterator[ArcReceiver]:
    async with ArcReceiver(**options) as arc:
        yield arc


class ArcInThread:
    """An `ArcReceiver` on a loop of its own thread, for code that is not async (the
    scenarios): `with ArcInThread(port=5000) as arc: ... arc.received ...`."""

    def __init__(self, **options: Any) -> None:
        self.arc = ArcReceiver(**options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="arc-sim", daemon=True)

    def __enter__(self) -> ArcReceiver:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.arc.start(), self.loop).result(10)
        return self.arc

    def __exit__(self, *_: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.arc.stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


def sos_to_arc(run: ScenarioRun, arc_url: str | None = None) -> ScenarioResult:
    """Press SOS; the school's alarm receiving centre, played here by pysiaalarm where the
    school's `arc:` points (`LW_SIM_ARC_URL`, default dc09+tcp://127.0.0.1:5000; account
    `LW_SIM_ARC_ACCOUNT`, key `LW_SIM_ARC_KEY`), receives `PA` and answers ACK."""
    from simulators.scenarios import _alarm  # here, not at the top: scenarios lists this one

    url = arc_url or os.environ.get("LW_SIM_ARC_URL", "dc09+tcp://127.0.0.1:5000")
    where = urlsplit(url)
    with ArcInThread(
        account=os.environ.get("LW_SIM_ARC_ACCOUNT", "4271"),
        key=os.environ.get("LW_SIM_ARC_KEY") or None,
        host=where.hostname or "127.0.0.1",
        port=where.port or 5000,
        udp=where.scheme == "dc09+udp",
    ) as arc:
        result = _alarm(run, "sos-to-arc", "sos", [("heartbeat", {})])
        deadline = time.monotonic() + run.wait
        alarms: list[Received] = []
        while time.monotonic() < deadline and not alarms:
            alarms = [r for r in arc.received if r.code == "PA"]
            time.sleep(0.05)
        result.check(f"the ARC at {url} received PA and answered ACK", bool(alarms))
        if alarms:
            result.notes.append(f"zone {alarms[0].event.ri}, extended data {alarms[0].extended}")
        else:
            result.notes.append("does the school's arc: point here, with this account and key?")
    return result


async def _serve(args: argparse.Namespace) -> None:
    arc = ArcReceiver(
        account=args.account, key=args.key, host=args.host, port=args.port, udp=args.udp
    )
    await arc.start()
    print(f"ARC listening at {arc.url} for account {arc.account}", flush=True)
    shown = 0
    try:
        while True:
            await asyncio.sleep(0.2)
            for r in arc.received[shown:]:
                e = r.event
                print(
                    f"{e.message_type} {e.code} ri{e.ri} seq {e.sequence} {r.extended}", flush=True
                )
            shown = len(arc.received)
    finally:
        await arc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--account", default="4271")
    parser.add_argument("--key", default=None)
    parser.add_argument("--udp", action="store_true")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
