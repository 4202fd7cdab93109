"""A school's `arc:` entry and a device's `zone` (INTERFACES §9), checked where the directory
is read, with the place in the file and what would be accepted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.adapters.directory_file import DirectoryError, parse_directory
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.arc import alarm_text, arc_code
from tests.worlds import DIRECTORY, a_trust_with_lone_visitors


def directory(arc: Any = None, zone: Any = None) -> dict[str, Any]:
    data = yaml.safe_load(DIRECTORY.read_text())
    if arc is not None:
        data["schools"][0]["arc"] = arc
    if zone is not None:
        data["devices"][0]["zone"] = zone
    return dict(data)


def test_an_arc_entry_is_read_with_its_defaults() -> None:
    parsed = parse_directory(
        directory(
            {"url": "dc09+udp://arc.example:5001", "account": "a4271", "supervision": "90s"}, 12
        )
    )
    assert parsed.schools[0].arc == {
        "url": "dc09+udp://arc.example:5001",
        "account": "A4271",
        "receiver": "R0",
        "prefix": "L0",
        "supervision": 90,
    }
    assert parsed.devices[0].zone == 12
    assert "arc" not in parsed.schools[1].as_event_data()  # no ARC: recorded as before


@pytest.mark.parametrize(
    ("arc", "words"),
    [
        (
            {"url": "tcp://arc:5000", "account": "4271"},
            "school \"lancaster\" (1st): arc.url: 'tcp://arc:5000' must look like dc09+tcp://",
        ),
        ({"url": "dc09+tcp://arc", "account": "4271"}, "needs a port"),
        ({"url": "dc09+tcp://arc:5000", "account": "42"}, "account '42' must be 3-16 hex digits"),
        (
            {"url": "dc09+tcp://arc:5000", "account": "4271", "key": "abc"},
            "key must be 16, 24 or 32 hex",
        ),
        ({"url": "dc09+tcp://arc:5000", "account": "4271", "receiver": "0"}, "like R0"),
        ("dc09+tcp://arc:5000", "must be a mapping"),
    ],
)
def test_an_arc_entry_that_cannot_work_is_refused_in_words(arc: Any, words: str) -> None:
    with pytest.raises(DirectoryError, match=re.escape(words)):
        parse_directory(directory(arc))


@pytest.mark.parametrize("zone", [0, 1000, "one", True])
def test_a_zone_is_1_to_999(zone: Any) -> None:
    with pytest.raises(
        DirectoryError, match=r"device \"\S+\" \(1st\): zone: must be a whole number 1-999"
    ):
        parse_directory(directory(zone=zone))


def test_the_arc_key_is_kept_in_the_store_and_out_of_the_views(tmp_path: Path) -> None:
    world = a_trust_with_lone_visitors(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        arc = {"url": "dc09+tcp://arc.example:5000", "account": "4271", "key": "0123456789ABCDEF"}
        world.app.import_directory(parse_directory(directory(arc, 3)))
        world.projector.catch_up()
        school = world.views.get("school", "lancaster")
        assert school is not None and school["arc"]["encrypted"] is True
        assert "0123456789ABCDEF" not in str(school)
        device = world.views.get("device", "sos-0001")
        assert device is not None and device["zone"] == 3
    finally:
        world.close()


def test_which_alerts_the_arc_is_told_of_and_with_which_code() -> None:
    """INTERFACES §9: PA (SOS), HA (duress), MA (fall); PR, HR, MR when resolved."""
    told = {k: (arc_code(k, resolved=False), arc_code(k, resolved=True)) for k in AlertKind}
    assert {k: v for k, v in told.items() if v != (None, None)} == {
        AlertKind.SOS: ("PA", "PR"),
        AlertKind.DURESS: ("HA", "HR"),
        AlertKind.FALL: ("MA", "MR"),
    }
    assert alarm_text("Sam Jones", "K7Q2") == "Sam Jones K7Q2"
