"""A login flood: concurrent clients sending wrong passwords to /console/login as fast as answered.

    python -m benchmarks.login_flood --port P --clients 30 --duration 10 [--addresses 30]

Each client has its own connection and sends the next attempt as soon as the last is
answered, with a new made-up username each time (what costs the service most: every
attempt is a password check unless a limit refuses it first). `--addresses N` spreads
the clients over N loopback source addresses (127.0.0.2 ...), as many machines would;
every connection still goes to 127.0.0.1 only. Bounded by `--duration` and
`--max-requests`. Prints one JSON line: requests, answers by status, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import aiohttp

HOST = "127.0.0.1"


def source_address(client: int, addresses: int) -> str:
    """127.0.0.1 for one address; otherwise 127.0.0.2, 127.0.0.3, ... (all on loopback)."""
    if addresses <= 1:
        return HOST
    return f"127.0.0.{2 + client % min(addresses, 250)}"


async def flood(
    port: int,
    *,
    clients: int,
    duration: float,
    addresses: int,
    max_requests: int,
    stop: asyncio.Event | None = None,
    statuses: Counter[str] | None = None,
    username: str | None = None,
) -> dict[str, object]:
    """Until `duration` runs out, `max_requests` have been sent or `stop` is set; the
    answers are counted in `statuses` as they come (pass one in to watch them). Every
    attempt names `username` if given (a flood against one person), else a new name."""
    statuses = Counter() if statuses is None else statuses
    sent = 0
    started = time.monotonic()
    deadline = started + duration

    async def one(index: int) -> None:
        nonlocal sent
        connector = aiohttp.TCPConnector(limit=1, local_addr=(source_address(index, addresses), 0))
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            n = 0
            while time.monotonic() < deadline and sent < max_requests:
                if stop is not None and stop.is_set():
                    break
                sent += 1
                n += 1
                name = username or f"guess-{index}-{n}"
                form = {"username": name, "password": "not it", "next": ""}
                try:
                    async with session.post(
                        f"http://{HOST}:{port}/console/login", data=form, allow_redirects=False
                    ) as response:
                        await response.read()
                        statuses[str(response.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[type(exc).__name__] += 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    seconds = time.monotonic() - started
    return {
        "requests": sum(statuses.values()),
        "statuses": dict(statuses),
        "seconds": seconds,
        "per_s": sum(statuses.values()) / seconds if seconds else 0.0,
        "clients": clients,
        "addresses": addresses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--addresses", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--username", default=None, help="every attempt for this name")
    args = parser.parse_args(argv)
    report = asyncio.run(
        flood(
            args.port,
            clients=args.clients,
            duration=args.duration,
            addresses=args.addresses,
            max_requests=args.max_requests,
            username=args.username,
        )
    )
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
