"""Scenarios for devices that reach Lonewatch through another system: a tracker through
Traccar's forwarding, a staff phone running OwnTracks (INTERFACES.md section 8).

`lonewatch simulate scenario traccar-sos --device UNIQUE_ID --http URL --token TOKEN` plays
Traccar forwarding an SOS (the event, then the position carrying it, as Traccar does) and
checks what Traccar itself can see: the answers, and that both name one alert.
`lonewatch simulate scenario owntracks-leave --device owntracks/USER/DEVICE` plays a phone
arriving at, then leaving, a visit's region and dropping off; it checks the broker took
every message (the visit's state is for the console to show).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession

from simulators.owntracks_phone import OwnTracksPhone
from simulators.traccar_forwarder import TraccarDevice, TraccarForwarder

if TYPE_CHECKING:
    from simulators.scenarios import ScenarioResult, ScenarioRun

PROPERTY = (51.5406, 0.7123)


def traccar_sos(run: ScenarioRun) -> ScenarioResult:
    from simulators.scenarios import ScenarioResult

    result = ScenarioResult("traccar-sos")
    base = run.http.rstrip("/") + "/integrations/traccar"
    forwarder = TraccarForwarder(
        f"{base}/events", f"{base}/positions", f"Authorization: Bearer {run.token or ''}"
    )
    watch = TraccarDevice(run.device, traccar_id=int(time.time()) % 100_000)
    now = datetime.now(UTC)
    position = forwarder.position(watch, now, lat=PROPERTY[0], lon=PROPERTY[1], alarm="sos")
    answers: list[Any] = []

    async def play() -> None:
        async with ClientSession() as session:
            for url, body in (
                (
                    forwarder.events_url,
                    forwarder.event(watch, "alarm", now, position=position, alarm="sos"),
                ),
                (forwarder.positions_url, forwarder.position_body(watch, position)),
            ):
                async with session.post(
                    url, json=body, headers={"Authorization": f"Bearer {run.token or ''}"}
                ) as response:
                    answers.append((response.status, json.loads(await response.text() or "null")))

    asyncio.run(play())
    result.sent = len(answers)
    result.check("the event was answered 200", answers[0][0] == 200)
    result.check("the position was answered 200", answers[1][0] == 200)
    alerts = {
        entry.get("alert_id")
        for _, body in answers
        if isinstance(body, dict)
        for entry in body.get("recorded", [])
        if entry.get("kind") == "sos"
    }
    result.check("event and position name one alert", len(alerts) == 1 and None not in alerts)
    if answers[0][0] != 200:
        result.notes.append(f"event answer: {answers[0]}")
    return result


def owntracks_leave(run: ScenarioRun) -> ScenarioResult:
    from simulators.scenarios import ScenarioResult

    result = ScenarioResult("owntracks-leave")
    phone = OwnTracksPhone(
        run.host, run.port, run.device, client_id=f"sim-ot-{time.time_ns() % 10**8}"
    )
    try:
        tst = int(time.time())
        phone.location(*PROPERTY, tst=tst)
        phone.transition("enter", "Visit", *PROPERTY, tst=tst + 1)
        phone.location(*PROPERTY, batt=41, tst=tst + 2)
        phone.transition("leave", "Visit", *PROPERTY, tst=tst + 3)
        result.sent = 4
        result.check("the broker took the location, enter and leave", True)
        phone.drop_off()
        result.notes.append("dropped off: the broker sends the phone's lwt")
    except (OSError, RuntimeError, ValueError) as exc:
        result.check(f"the broker took every message ({exc})", False)
        phone.close()
    return result
