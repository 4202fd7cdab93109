"""The production broker configuration: a device may publish only under its own id, with its secret."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import PRODUCTION_ACL, own_mosquitto
from tests.harness import cli
from tests.worlds import DIRECTORY

GATEWAY_PASSWORD = "gateway-secret-for-tests"


class Client:
    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.received: list[str] = []
        self.granted: list[int] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)

        def on_subscribe(_c: object, _u: object, _mid: int, codes: list, _p: object) -> None:
            self.granted = [c.value for c in codes]
            self._subscribed.set()

        self.client.on_subscribe = on_subscribe
        self.connected = threading.Event()
        self.refused = threading.Event()

        def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
            (self.refused if reason.is_failure else self.connected).set()  # type: ignore[attr-defined]

        self.client.on_connect = on_connect
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def wait(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.connected.is_set():
                return True
            if self.refused.is_set():
                return False
            time.sleep(0.02)
        return False

    def subscribe(self, topic: str) -> list[int]:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(5)
        return self.granted

    def publish(self, topic: str) -> None:
        info = self.client.publish(topic, b"{}", qos=1)
        info.wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp_path = tmp_path_factory.mktemp("deploy")
    database = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    env = {
        "LW_DATABASE_URL": database,
        "LW_MQTT_URL": f"mqtt://lonewatch-gateway:{GATEWAY_PASSWORD}@127.0.0.1:1",
    }
    cli(env, "directory", "import", str(DIRECTORY))
    passwd = tmp_path / "lonewatch.passwd"
    cli(env, "mosquitto", "passwd", "--out", str(passwd))
    lines = passwd.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["lonewatch-gateway", "sos-0001", "sos-0002"]
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in lines)
    assert "change-me" not in passwd.read_text()
    with own_mosquitto(tmp_path / "broker", passwd=passwd, acl=PRODUCTION_ACL) as port:
        yield port


def test_a_device_publishes_only_under_its_own_id_with_its_secret(broker: int) -> None:
    gateway = Client(broker, "lonewatch-gateway", GATEWAY_PASSWORD)
    device = Client(broker, "sos-0001", "change-me")
    try:
        assert gateway.wait() and device.wait()
        assert gateway.subscribe("$share/gw/lw/v1/dev/+/+") == [1]
        assert device.subscribe("lw/v1/dev/sos-0001/cmd") == [1]
        device.publish("lw/v1/dev/sos-0001/sos")
        device.publish("lw/v1/dev/sos-0002/sos")  # another device's id: PUBACK, then dropped
        device.publish("lw/v1/alerts/lancaster")
        gateway.publish("lw/v1/dev/sos-0001/cmd")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (gateway.received and device.received):
            time.sleep(0.02)
        time.sleep(0.3)
        # (the gateway also hears its own cmd publish: the filter matches it, by design)
        assert [t for t in gateway.received if not t.endswith("/cmd")] == ["lw/v1/dev/sos-0001/sos"]
        assert device.received == ["lw/v1/dev/sos-0001/cmd"]
    finally:
        gateway.close()
        device.close()


def test_a_device_cannot_read_another_devices_commands(broker: int) -> None:
    device = Client(broker, "sos-0001", "change-me")
    try:
        assert device.wait()
        granted = device.subscribe("lw/v1/dev/sos-0002/cmd")
        assert granted == [128] or granted == [1]  # refused, or granted and filtered
        gateway = Client(broker, "lonewatch-gateway", GATEWAY_PASSWORD)
        assert gateway.wait()
        gateway.publish("lw/v1/dev/sos-0002/cmd")
        time.sleep(0.3)
        assert device.received == []
        gateway.close()
    finally:
        device.close()


@pytest.mark.parametrize(
    ("username", "password"),
    [("sos-0001", "wrong"), (None, None), ("sos-0002", "change-me"), ("nobody", "change-me")],
)
def test_a_wrong_secret_or_no_login_is_refused(
    broker: int, username: str | None, password: str | None
) -> None:
    client = Client(broker, username, password)
    try:
        assert not client.wait()
    finally:
        client.close()


def test_a_gateway_refused_by_the_broker_is_named_by_health_with_what_to_do(broker: int) -> None:
    """A changed password file at 2 am: health said only "the devices session is not
    connected"; the refusal and what to check were in the log alone."""
    from types import SimpleNamespace

    from device_gateway.mqtt_link import MqttLink
    from service.config import Settings
    from service.workers.health import _broker

    endpoint = Settings(mqtt_url=f"mqtt://lonewatch-gateway:not-the-password@127.0.0.1:{broker}")
    link = MqttLink(
        endpoint.mqtt, client_id="refused-gw", subscriptions=[], on_message=lambda _m: None
    )
    link.start()
    try:
        deadline = time.monotonic() + 10
        while link.why_not is None and time.monotonic() < deadline:
            time.sleep(0.05)
        reasons: list[str] = []
        _broker(SimpleNamespace(main=link, alarm=None), False, reasons)  # type: ignore[arg-type]
        [reason] = reasons
        assert reason.startswith("broker: the devices session is not connected (the broker ")
        assert "refused the connection: Not authorized" in reason, reason
        assert "LW_MQTT_URL" in reason and "password file" in reason
    finally:
        link.stop()
