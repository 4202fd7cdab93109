"""The walking skeleton, on real parts: an SOS press over MQTT becomes an alert, an SMS
request through the real twilio library, a row in the API and the live stream, and a
timeline the DSL can replay."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.e2e.conftest import Stack, read_stream, wait_healthy
from tests.harness import Device, cli, eventually, service_process


async def test_an_sos_press_reaches_the_contact_centre_by_sms_and_the_feed(stack: Stack) -> None:
    token = stack.token("reception1")
    with service_process(stack.env, stack.log):
        health = await wait_healthy(stack)
        assert health["checks"]["broker"]["ok"] is True
        received: list[tuple[str, dict[str, Any]]] = []
        ready = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            reader = asyncio.create_task(
                read_stream(session, f"{stack.http}/api/v1/stream", token, received, ready.set)
            )
            await asyncio.wait_for(ready.wait(), 10)
            device = await Device.connect(
                stack.mqtt_host, stack.mqtt_port, stack.prefix, "sos-0001", f"fob-{id(stack)}"
            )
            try:
                await device.send("sos", {"id": "press-1", "ts": 1763900000000})
                sms = await stack.double.wait_for_messages(2, timeout=10)
                command = await eventually(lambda: device.commands, what="alert_received")
            finally:
                device.close()
            assert sorted(m["form"]["To"] for m in sms) == ["+441702000010", "+441702000014"]
            assert all(m["form"]["From"] == "+441702999999" for m in sms)
            assert all(m["authorized"] for m in sms)
            body = sms[0]["form"]["Body"]
            assert "SOS pressed - Sam Jones (device sos-0001)" in body and "Reply ACK" in body
            alert_id = command[0]["alert_id"]

            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(
                f"{stack.http}/api/v1/alerts?state=open", headers=headers
            ) as response:
                alerts = (await response.json())["alerts"]
            assert [a["id"] for a in alerts] == [alert_id]
            assert alerts[0]["short_code"] in body
            await eventually(
                lambda: any(e == "alert" and d["id"] == alert_id for e, d in received),
                what="the alert on the live stream",
            )
            await eventually(
                lambda: any(
                    e == "alert" and d["id"] == alert_id and d["state"] == "notified"
                    for e, d in received
                ),
                what="the alert shown as notified on the stream",
            )
            reader.cancel()
    replay = cli(stack.env, "replay", "--alert", alert_id)
    lines = replay.splitlines()
    assert lines[0].startswith(f"Timeline of alert:{alert_id}")
    assert "device sos-0001 sent sos" in lines[1]
    assert "sos alert raised" in lines[2]
    assert sum("accepted by the provider (ref SM" in line for line in lines) == 2
