"""CPU to read one device message, beside `json.loads` of the same bytes as the reference.

`parse_device_message` (topic, payload, every field checked, a DeviceReading made) for a
heartbeat as the flood sends it and for a fuller location message; then the same with the
one-pass reader (device_gateway/fast_payload.py) turned off, which is how every payload it
does not answer for is read. Best of five runs each, by this thread's CPU clock.

    python -m benchmarks.parse [--count 100000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from unittest import mock

from device_gateway import messages
from device_gateway.messages import parse_device_message

CASES = {
    "heartbeat": ("lw/v1/dev/bench-00001/heartbeat", b'{"id":"profile-1-12345","battery":87}'),
    "location": (
        "lw/v1/dev/bench-00001/location",
        b'{"id":"42","ts":"2026-12-06T09:30:00Z","lat":51.5072,"lon":-0.1276,'
        b'"acc":12.5,"battery":64,"seq":1234}',
    ),
}


def _none(text: str) -> None:
    """The one-pass reader declining every payload."""
    return None


def cpu_us(call: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.thread_time()
        for _ in range(count):
            call()
        best = min(best, (time.thread_time() - start) / count * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parse")
    parser.add_argument("--count", type=int, default=100_000)
    count = parser.parse_args().count
    print(f"{'message':<10} {'parse':>8} {'full reader':>12} {'json.loads alone':>17}  (CPU-us)")
    for name, (topic, payload) in CASES.items():
        parsed = cpu_us(lambda: parse_device_message(topic, payload), count)  # noqa: B023
        with mock.patch.object(messages, "fast_reading", _none):
            full = cpu_us(lambda: parse_device_message(topic, payload), count)  # noqa: B023
        reference = cpu_us(lambda: json.loads(payload), count)  # noqa: B023
        print(f"{name:<10} {parsed:>8.2f} {full:>12.2f} {reference:>17.2f}")


if __name__ == "__main__":
    main()
