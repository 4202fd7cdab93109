"""The application and its views behave the same on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.application.device_intake import Intaken
from service.application.device_intake import Outcome as Intake
from service.domain.alerts.alert import Outcome
from service.domain.errors import InvalidTransition
from tests.worlds import World, a_trust_with_lone_visitors


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = a_trust_with_lone_visitors(database_url)
    yield w
    w.close()


def sos(world: World, message_id: str | None = "m-1", device: str = "sos-0001") -> Intaken:
    return world.press(device, message_id)


def test_sos_raises_alert_with_tier_one_sms_requests(world: World) -> None:
    recorded = sos(world)
    assert recorded.outcome is Intake.RECORDED and recorded.alert_id is not None
    world.projector.catch_up()
    alert = world.views.get("alert", str(recorded.alert_id))
    assert alert is not None
    assert (alert["kind"], alert["severity"], alert["state"]) == ("sos", "red", "raised")
    assert alert["staff_name"] == "Sam Jones"
    pending = world.views.find("notification", states=["requested"])
    assert sorted(n["to"] for n in pending) == ["+441702000010", "+441702000014"]
    assert all("Sam Jones" in n["body"] and alert["short_code"] in n["body"] for n in pending)


def test_a_repeated_message_id_is_recorded_once(world: World) -> None:
    first = sos(world)
    head = world.app.recorder.max_notification_id()
    again = sos(world)
    assert again.outcome is Intake.DUPLICATE and again.alert_id == first.alert_id
    assert world.app.recorder.max_notification_id() == head


def test_messages_without_id_are_each_recorded(world: World) -> None:
    a, b = sos(world, None), sos(world, None)
    assert a.message_id != b.message_id
    assert a.outcome is Intake.RECORDED and b.outcome is Intake.RECORDED


def test_reimporting_the_directory_records_nothing(world: World) -> None:
    from service.adapters.directory_file import load_directory
    from tests.worlds import DIRECTORY

    head = world.app.recorder.max_notification_id()
    report = world.app.import_directory(load_directory(DIRECTORY))
    assert report.created == 0 and report.updated == 0 and report.unchanged > 0
    assert world.app.recorder.max_notification_id() == head


def test_alert_lifecycle_and_timeline(world: World) -> None:
    from service.records.timeline import timeline

    recorded = sos(world)
    assert recorded.alert_id
    pending = world.app.recorder.max_notification_id()
    world.projector.catch_up()
    for n in world.views.find("notification", states=["requested"]):
        from uuid import UUID

        world.app.record_notification_sent(UUID(n["id"]), provider_id="SM1")
    world.app.acknowledge_alert(recorded.alert_id, by="operator:reception1", via="api")
    with pytest.raises(InvalidTransition):
        world.app.acknowledge_alert(recorded.alert_id, by="operator:other", via="api")
    world.app.resolve_alert(
        recorded.alert_id, outcome=Outcome.FALSE_ALARM, note="pressed in bag", by="dsl:dsl1"
    )
    world.projector.catch_up()
    doc = world.views.get("alert", str(recorded.alert_id))
    assert doc is not None and doc["state"] == "resolved" and doc["outcome"] == "false_alarm"
    assert all(n["state"] == "sent" for n in doc["notifications"].values())
    rows = timeline(world.app, world.views, f"alert:{recorded.alert_id}")
    events = [r["event"] for r in rows]
    assert events[0] == "DeviceMessage.Received"
    assert events[1] == "Alert.Raised"
    assert events[-2:] == ["Alert.Acknowledged", "Alert.Resolved"]
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert pending is not None and rows[0]["position"] < pending


def test_projection_restart_neither_skips_nor_repeats(world: World, database_url: str) -> None:
    sos(world, "a")
    world.projector.catch_up()
    sos(world, "b")
    world.close()
    again = World(database_url)
    try:
        again.projector.catch_up()
        device = again.views.get("device", "sos-0001")
        assert device is not None and device["counts"] == {"sos": 2}
        assert again.projector.position() == again.projector.head()
    finally:
        again.close()


def test_a_command_that_keeps_losing_the_race_says_try_again(world: World) -> None:
    from service.application.lonewatch import Contended

    recorded = sos(world)
    assert recorded.alert_id
    calls = []

    def always_stale() -> list:
        alert = world.app.alert(recorded.alert_id)  # type: ignore[arg-type]
        alert.acknowledge(by="operator:r", via="api", timestamp=world.clock.now())
        if not calls:  # someone else gets there first, every time
            world.app.acknowledge_alert(recorded.alert_id, by="operator:other", via="api")  # type: ignore[arg-type]
        calls.append(1)
        return [alert]

    with pytest.raises(Contended, match="try again"):
        world.app.retry_on_conflict(always_stale, tries=1)


def test_a_records_streams_are_read_whole_in_one_go_with_their_positions(world: World) -> None:
    """What a record verifies and shows comes from one read: each stream whole, in version
    order, each event with the position the log gives it, bytes as stored."""
    from uuid import uuid4

    from service.adapters.event_streams import stream_notifications

    recorded = sos(world)
    assert recorded.alert_id
    world.app.acknowledge_alert(recorded.alert_id, by="operator:reception1", via="api")
    world.app.resolve_alert(recorded.alert_id, outcome=Outcome.SAFE, note="fine", by="dsl:dsl1")
    recorder = world.app.recorder
    logged = {
        (n.originator_id, n.originator_version): n for n in recorder.select_notifications(1, 10_000)
    }
    nobody = uuid4()
    streams = stream_notifications(recorder, [recorded.alert_id, nobody])
    assert list(streams) == [recorded.alert_id, nobody] and streams[nobody] == []
    alert = streams[recorded.alert_id]
    assert [n.originator_version for n in alert] == list(range(1, len(alert) + 1))
    assert len(alert) == len(recorder.select_events(recorded.alert_id)) >= 3
    for n in alert:
        stored = logged[(n.originator_id, n.originator_version)]
        assert (n.id, n.topic, n.state) == (stored.id, stored.topic, bytes(stored.state))
