"""An SOS pressed on a home visit: the texts and the calls say where the visit is (its
address), never the pupil's reference, as the real `twilio` library sent them to the
double, and as a person answering the call hears them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.console_world import a_lone_visit_out, devices
from tests.harness import eventually
from tests.integration.test_twilio_escalation import CC1, CC2, Running, running

__all__ = ["running"]

ADDRESS = "12 Acacia Road, Leigh-on-Sea SS9 1AA"


async def test_texts_and_calls_name_the_visits_address_not_the_pupil(running: Running) -> None:
    running.double.script(messages=["delivered", "delivered"], calls=["answered", "no_answer"])
    a_lone_visit_out(
        running.container,
        "acacia",
        back_in=timedelta(hours=1),
        address=ADDRESS,
        pupil_ref="UPN-7731",
    )

    press = devices(running.container).press
    recorded = await asyncio.to_thread(press, "sos-0001", "acacia-1", lat=51.5412, lon=0.7104)
    assert recorded.alert_id is not None
    alert_id = recorded.alert_id

    texts = await running.double.wait_for_messages(2)
    assert sorted(m["form"]["To"] for m in texts) == [CC1, CC2]
    for message in texts:
        body = message["form"]["Body"]
        assert f"Sam Jones (device sos-0001) at 09:00, on a home visit at {ADDRESS}." in body
        assert "Location: https://www.openstreetmap.org/?mlat=51.5412" in body
        assert "UPN-7731" not in body
    await running.double.wait_for_calls(2)
    [heard] = await eventually(
        lambda: [c["body"] for c in running.double.callbacks if "/voice/alert" in c["url"]],
        what="the answered call's words",
    )
    assert f"On a home visit at {ADDRESS}." in heard
    assert "Last known location: a map link is in the text message." in heard
    assert "UPN-7731" not in heard
    # The alert itself names the visit, so the console and the replay tie the two.
    assert running.alert(alert_id)["cause"]["visit_address"] == ADDRESS
