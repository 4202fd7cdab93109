"""What the gateway refuses before recording, and the password file it writes for Mosquitto."""

from __future__ import annotations

from typing import Any, cast

import pytest

from device_gateway.gateway import Gateway
from device_gateway.inbound import InboundMessage
from device_gateway.links import Links
from service.adapters.mosquitto_files import Account, gateway_account, password_file
from service.adapters.secrets import pbkdf2_verify


class FakeLink:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        raise AssertionError("nothing is published for a refusal")


def test_a_device_publishing_under_another_devices_id_is_refused_where_the_broker_says_who() -> (
    None
):
    link = FakeLink()
    gateway = Gateway(cast(Any, None), sessions=Links(link))
    gateway.admit(
        InboundMessage(
            "lw/v1/dev/sos-0002/sos", b"{}", mid=7, qos=1, dup=False, username="sos-0001"
        )
    )
    assert gateway.stats["rejected:credential_mismatch"] == 1
    assert link.acked == [7], "refused messages are acknowledged, so they are not sent again"


def test_the_password_file_has_one_line_per_account_in_mosquitto_format() -> None:
    gateway = gateway_account("lonewatch-gateway", "s3cret")
    text = password_file([Account("sos-0002", "$7$101$c2FsdA==$aGFzaA=="), gateway])
    assert text.splitlines()[0].startswith("lonewatch-gateway:$7$101$")
    assert text.splitlines()[1] == "sos-0002:$7$101$c2FsdA==$aGFzaA=="
    assert pbkdf2_verify("s3cret", gateway.password_hash)


@pytest.mark.parametrize(
    "account",
    [Account("bad:name", "$7$101$c2FsdA==$aGFzaA=="), Account("sos-0001", "plain-secret")],
)
def test_the_password_file_refuses_what_mosquitto_would_misread(account: Account) -> None:
    with pytest.raises(ValueError, match=r"broker username|Mosquitto's"):
        password_file([account])
