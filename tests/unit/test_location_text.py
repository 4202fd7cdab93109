"""'The location any device gives reaches the alert, the SMS and call (an address where
known, or a map link - never a bare pair of numbers).'"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import alert_message
from service.domain.devices.location import describe, location_of, spoken


def sms(where: str | None) -> str:
    return alert_message(
        kind=AlertKind.SOS,
        short_code="ABC123",
        school_name="Lancaster School",
        visitor="Sam Jones",
        device="watch-07",
        raised_at=datetime(2026, 11, 23, 9, 5, tzinfo=UTC),
        timezone="Europe/London",
        where=where,
    )


def test_an_address_is_said_as_it_is() -> None:
    location = location_of({"lat": 51.5, "lon": 0.7, "acc": 8.4, "address": " 14 High St "})
    assert describe(location) == "14 High St (within 8 m)"
    assert spoken(location) == "14 High St"


def test_without_an_address_a_map_link_never_bare_numbers() -> None:
    text = sms(describe(location_of({"lat": 51.54216, "lon": 0.66871})))
    assert "Location: https://www.openstreetmap.org/?mlat=51.54216&mlon=0.66871&zoom=17." in text
    assert not re.search(r"(?<![=\d.])51\.54216", text), "the numbers only inside the link"
    assert spoken(location_of({"lat": 51.5, "lon": 0.7})) == "a map link is in the text message"


def test_no_location_says_nothing_of_it() -> None:
    assert location_of({"battery": 50}) is None
    assert sms(None) == (
        "LONEWATCH Lancaster School: SOS pressed - Sam Jones (device watch-07) at 09:05. "
        "Reply ACK ABC123 to take it."
    )
