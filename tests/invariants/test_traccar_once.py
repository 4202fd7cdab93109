"""'Each Traccar event id and position id is recorded once, however often it is forwarded
... An event and the position it carries (or a later position) reporting the same alarm
raise one alert, not two.' (INTERFACES.md section 8) Whatever order Traccar's two
forwarders deliver in, however often each repeats, and across a restart of the intake."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from device_gateway.messages import DeviceReading
from device_gateway.traccar import event_readings, position_readings
from service.application.device_intake import DeviceIntake, Outcome
from simulators.traccar_forwarder import TraccarDevice, TraccarForwarder
from tests.worlds import a_trust_with_lone_visitors

WHEN = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
ACTIONS = st.lists(
    st.sampled_from(["event", "position", "later position", "restart"]), min_size=1, max_size=8
)


@settings(max_examples=25, deadline=None)
@given(ACTIONS)
def test_one_alarm_one_alert_each_id_once(actions: list[str]) -> None:
    forwarder = TraccarForwarder("http://x/e", "http://x/p", "Authorization: Bearer t")
    watch = TraccarDevice("358000000000007", 7)
    position = forwarder.position(watch, WHEN, lat=51.5, lon=0.7, alarm="sos", position_id=501)
    later = forwarder.position(watch, WHEN, lat=51.5, lon=0.7, alarm="sos", position_id=502)
    event = forwarder.event(watch, "alarm", WHEN, position=position, alarm="sos", event_id=9)
    with tempfile.TemporaryDirectory() as tmp:
        world = a_trust_with_lone_visitors(f"sqlite:///{Path(tmp) / 'events.sqlite3'}")
        try:
            intake = world.intake
            restarted = False
            alerts: set[str] = set()
            recorded: list[str] = []
            for action in actions:
                if action == "restart":
                    intake, restarted = DeviceIntake(world.app), True
                    continue
                if action == "later position" and restarted:
                    continue  # a later position's new id after a restart: see docs/devices.md
                body = (
                    event_readings("sos-0001", event)
                    if action == "event"
                    else position_readings(
                        "sos-0001",
                        forwarder.position_body(watch, position if action == "position" else later),
                    )
                )
                readings = [r for r in body if isinstance(r, DeviceReading)]
                for reading, result in zip(readings, intake.record(readings), strict=True):
                    if result.outcome is Outcome.RECORDED:
                        recorded.append(str(reading.msg_id))
                    if result.alert_id is not None:
                        alerts.add(str(result.alert_id))
            assert len(recorded) == len(set(recorded)), "each id is recorded once"
            world.projector.catch_up()
            raised = world.views.find("alert")
            assert len(raised) == (1 if alerts else 0)
            assert {a["id"] for a in raised} == alerts
        finally:
            world.close()
