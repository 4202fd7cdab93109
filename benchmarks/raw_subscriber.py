"""The raw pipe's far end: a plain paho subscriber (the gateway's MQTT library) that only counts.

    python -m benchmarks.raw_subscriber --port P --seconds S

Prints, as JSON, (monotonic time, messages so far) samples every 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.messages import device_topic_filter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--topic", default=device_topic_filter(""))
    args = parser.parse_args()
    count = 0
    subscribed = threading.Event()

    def on_message(*_: object) -> None:
        nonlocal count
        count += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="lw-bench-raw", clean_session=True)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe(args.topic, qos=1)
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    subscribed.wait(10)
    print(json.dumps({"ready": True}), flush=True)
    samples: list[tuple[float, int]] = []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        samples.append((time.monotonic(), count))
        time.sleep(0.25)
    samples.append((time.monotonic(), count))
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"samples": samples}), flush=True)


if __name__ == "__main__":
    main()
