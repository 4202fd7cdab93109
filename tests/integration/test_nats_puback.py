"""Does NATS's MQTT listener send a device its PUBACK only once the stream has stored the
message? Measured here on the installed nats-server (Debian's 2.9): no. A stream that
refuses a message (full, `discard: new`) does not stop the PUBACK, so a PUBACK is no proof
that the service will ever see the message (docs/scale-out.md, "NATS")."""

from __future__ import annotations

import asyncio
import json
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.nats_cluster import OwnNatsCluster, nats_version
from tests.nats_servers import own_nats

__all__ = ["own_nats"]


def test_the_mqtt_puback_does_not_wait_for_the_stream(own_nats: OwnNatsCluster) -> None:
    prefix = f"puback{uuid.uuid4().hex[:8]}"
    stream = f"PUBACK_{uuid.uuid4().hex[:8]}"
    servers = [f"nats://{a}" for a in own_nats.url.removeprefix("nats://").split(",")]

    async def stream_holding_one() -> None:
        import nats
        from nats.js.api import DiscardPolicy, StreamConfig

        nc = await nats.connect(servers=servers)
        try:
            await nc.jetstream().add_stream(
                StreamConfig(
                    name=stream,
                    subjects=[f"{prefix}.lw.v1.dev.>"],
                    max_msgs=1,
                    discard=DiscardPolicy.NEW,
                )
            )
        finally:
            await nc.close()

    async def stored() -> int:
        import nats

        nc = await nats.connect(servers=servers)
        try:
            return int((await nc.jetstream().stream_info(stream)).state.messages)
        finally:
            await nc.close()

    asyncio.run(stream_holding_one())
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=prefix, protocol=mqtt.MQTTv311)
    device.connect("127.0.0.1", own_nats.mqtt_ports[0])
    device.loop_start()
    try:
        acknowledged = 0
        for n in range(3):
            info = device.publish(
                f"{prefix}/lw/v1/dev/sos-0001/sos", json.dumps({"id": f"p-{n}"}), qos=1
            )
            info.wait_for_publish(5)
            acknowledged += info.is_published()
    finally:
        device.loop_stop()
        device.disconnect()
    held = asyncio.run(stored())
    print(f"\nnats-server {nats_version()}: {acknowledged} PUBACKs, {held} stored")
    assert acknowledged == 3
    assert held == 1, "the stream refused two messages the device was told were taken"
