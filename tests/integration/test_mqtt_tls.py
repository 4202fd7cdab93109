"""MQTT over TLS (issue 16): a Mosquitto TLS listener with certificates this test makes
(`cryptography`), the service on `mqtts://` checking the broker's certificate against
LW_MQTT_CA_FILE, devices with or without a certificate of their own."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from device_gateway.mqtt_link import MqttLink
from service.config import ConfigError, MqttEndpoint, Settings
from tests.conftest import REQUIRE_SERVICES, free_port
from tests.harness import eventually, service_in_process

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    device_cert: Path
    device_key: Path
    rogue_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    *,
    ca: bool = False,
    hosts: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca_key = _key()
    ca = _certificate("Lonewatch test CA", ca_key, ca=True)
    _write(tmp_path / "ca.pem", ca, None)
    server_key = _key()
    server = _certificate("localhost", server_key, ca.subject, ca_key, hosts=True)
    _write(tmp_path / "server.pem", server, server_key)
    device_key = _key()
    device = _certificate("sos-0001", device_key, ca.subject, ca_key)
    _write(tmp_path / "device.pem", device, device_key)
    rogue_key = _key()
    _write(tmp_path / "rogue.pem", _certificate("Not our CA", rogue_key, ca=True), None)
    return Pki(
        ca=tmp_path / "ca.pem",
        server_cert=tmp_path / "server.pem",
        server_key=tmp_path / "server.key",
        device_cert=tmp_path / "device.pem",
        device_key=tmp_path / "device.key",
        rogue_ca=tmp_path / "rogue.pem",
    )


@pytest.fixture
def tls_broker(pki: Pki, tmp_path: Path) -> Iterator[int]:
    """A Mosquitto of this test's own with only a TLS listener; device certificates optional."""
    if not Path(MOSQUITTO).exists():
        if REQUIRE_SERVICES:
            pytest.fail("mosquitto is not installed and LW_REQUIRE_SERVICES=1")
        pytest.skip("mosquitto is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    lines = [
        "per_listener_settings false",
        "allow_anonymous true",
        "persistence false",
        f"log_dest file {tmp_path / 'mosquitto.log'}",
        f"listener {port} 127.0.0.1",
        f"cafile {pki.ca}",
        f"certfile {pki.server_cert}",
        f"keyfile {pki.server_key}",
        "require_certificate false",
        "tls_version tlsv1.2",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert broker.poll() is None, broker.stderr.read() if broker.stderr else ""
            assert time.monotonic() < deadline, "the TLS broker did not start"
            time.sleep(0.05)
    try:
        yield port
    finally:
        broker.terminate()
        broker.wait(10)


class TlsDevice:
    """A device on the TLS listener, with its own certificate or without one."""

    def __init__(self, port: int, pki: Pki, prefix: str, *, with_certificate: bool) -> None:
        self.prefix = prefix
        self.commands: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-dev-{port}")
        self.client.tls_set(
            ca_certs=str(pki.ca),
            certfile=str(pki.device_cert) if with_certificate else None,
            keyfile=str(pki.device_key) if with_certificate else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        self.client.on_connect = lambda *_: self.connected.set()
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.commands.append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(5), "the device could not connect over TLS"
        self.client.subscribe(f"{prefix}lw/v1/dev/sos-0001/cmd", qos=1)
        assert self.subscribed.wait(5), "the device could not subscribe to its cmd topic"

    def press(self) -> None:
        info = self.client.publish(
            f"{self.prefix}lw/v1/dev/sos-0001/sos", b'{"id": "tls-1"}', qos=1
        )
        info.wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()  # before the loop stops: see tests/harness.py Device.close
        self.client.loop_stop()


@pytest.mark.parametrize("with_certificate", [True, False])
async def test_an_sos_over_tls_is_recorded_and_answered(
    tls_broker: int,
    pki: Pki,
    sqlite_url: str,
    topic_prefix: str,
    run_id: str,
    with_certificate: bool,
) -> None:
    settings = Settings(
        database_url=sqlite_url,
        mqtt_url=f"mqtts://127.0.0.1:{tls_broker}",
        mqtt_ca_file=str(pki.ca),
        mqtt_topic_prefix=topic_prefix,
        mqtt_client_id=f"lw-tls-{run_id}",
    )
    assert settings.mqtt.tls
    async with service_in_process(settings) as container:  # waits for the gateway to connect
        device = await asyncio.to_thread(
            TlsDevice, tls_broker, pki, topic_prefix, with_certificate=with_certificate
        )
        try:
            await asyncio.to_thread(device.press)
            command = await eventually(lambda: device.commands, what="alert_received over TLS")
        finally:
            device.close()
        assert command[0]["type"] == "alert_received"
        await asyncio.to_thread(container.projector.catch_up)
        alerts = container.views.find("alert", schools=None)
        assert [a["id"] for a in alerts] == [command[0]["alert_id"]]


def _connects(endpoint: MqttEndpoint) -> bool:
    link = MqttLink(
        endpoint, client_id=f"tls-probe-{time.monotonic_ns()}", subscriptions=[], on_message=print
    )
    link.start()
    try:
        return link.wait_connected(3)
    finally:
        link.stop()


def test_the_gateway_refuses_a_broker_its_ca_did_not_sign(tls_broker: int, pki: Pki) -> None:
    ours = MqttEndpoint("127.0.0.1", tls_broker, tls=True, ca_file=str(pki.ca))
    rogue = MqttEndpoint("127.0.0.1", tls_broker, tls=True, ca_file=str(pki.rogue_ca))
    plain = MqttEndpoint("127.0.0.1", tls_broker)
    assert _connects(ours)
    assert not _connects(rogue)
    assert not _connects(plain)


def test_mqtts_urls_and_their_files_are_read_from_the_environment() -> None:
    from service.config import load_settings

    settings = load_settings(
        {"LW_MQTT_URL": "mqtts://gw:s3cret@broker.example", "LW_MQTT_CA_FILE": "/etc/lw/ca.pem"}
    )
    assert settings.mqtt == MqttEndpoint(
        "broker.example", 8883, "gw", "s3cret", tls=True, ca_file="/etc/lw/ca.pem"
    )
    with pytest.raises(ConfigError, match="go together"):
        _ = Settings(mqtt_url="mqtts://b", mqtt_cert_file="/c.pem").mqtt
    with pytest.raises(ConfigError, match="need an mqtts"):
        _ = Settings(mqtt_url="mqtt://b", mqtt_ca_file="/ca.pem").mqtt
