"""LW_MQTT_URL=nats://... and LW_NATS_STREAM: read once at start, a bad value refused there."""

from __future__ import annotations

import pytest

from device_gateway.nats_link import mqtt_topic, nats_subject
from device_gateway.nats_sessions import NatsPlan
from service.config import ConfigError, load_settings


def test_a_nats_url_lists_the_cluster_and_the_stream_has_a_default() -> None:
    settings = load_settings({"LW_MQTT_URL": "nats://10.0.0.1:4222,10.0.0.2:4222,10.0.0.3:4222"})
    assert settings.nats_servers == [
        "nats://10.0.0.1:4222",
        "nats://10.0.0.2:4222",
        "nats://10.0.0.3:4222",
    ]
    assert settings.nats_stream == "LONEWATCH_DEVICES"
    assert load_settings({"LW_MQTT_URL": "mqtt://h:1883"}).nats_servers is None


@pytest.mark.parametrize(
    "env",
    [
        {"LW_MQTT_URL": "nats://"},
        {"LW_MQTT_URL": "nats://host-without-port"},
        {"LW_MQTT_URL": "nats://a:4222", "LW_NATS_STREAM": "has.dots"},
    ],
)
def test_a_bad_nats_setting_is_refused_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_topics_and_subjects_map_both_ways_as_the_mqtt_listener_does() -> None:
    assert nats_subject("site/lw/v1/dev/sos-1/sos") == "site.lw.v1.dev.sos-1.sos"
    assert mqtt_topic("site.lw.v1.dev.sos-1.sos") == "site/lw/v1/dev/sos-1/sos"


def test_the_stream_takes_every_device_message_and_each_alarm_kind_has_a_consumer() -> None:
    plan = NatsPlan(stream="S", prefix="site", replicas=3)
    assert plan.devices == "site.lw.v1.dev.>"
    assert plan.alarms == {
        "lonewatch-alarms-fall": "site.lw.v1.dev.*.fall",
        "lonewatch-alarms-sos": "site.lw.v1.dev.*.sos",
    }
