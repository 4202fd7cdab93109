"""How a visit event came, in the timeline's words: never a message's own reference."""

from __future__ import annotations

import pytest

from projections.visit_timeline import how_words, via_words


@pytest.mark.parametrize(
    ("via", "by", "words"),
    [
        ("text OK (sms:SM4f00aa)", "staff:s-jones", " by text"),
        (
            "app message ARRIVED (app:5b0e0c1e-8f7a-4b51-9d3c-0d6f3f8f3a11)",
            "staff:x",
            " by app message",
        ),
        (
            "device checkin 5b0e0c1e-8f7a-4b51-9d3c-0d6f3f8f3a11",
            "device:sos-0001",
            " from device sos-0001",
        ),
        ("api", "dsl:dsl1", " through the API"),
        ("console", "operator:r1", " in the console"),
        ("", "x", ""),
    ],
)
def test_via_in_words(via: str, by: str, words: str) -> None:
    assert via_words(via, by) == words


def test_how_a_ladder_ended_without_references() -> None:
    assert how_words("text OK (sms:SM5)") == "text OK"
    assert how_words("device checkin 5b0e", "device:sos-0001") == "a check-in from the device"
    assert how_words("contact made") == "contact made"
