"""Reading the directory file: problems are reported with their place and a fix."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from service.adapters.directory_file import DirectoryError, load_directory, parse_directory
from service.adapters.directory_reader import parse_duration
from tests.worlds import DIRECTORY


def base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DIRECTORY.read_text())
    return data


def test_the_example_file_reads_with_policy_in_seconds() -> None:
    directory = load_directory(DIRECTORY)
    lancaster = directory.schools[0]
    assert lancaster.policy["sos"]["ack_within"] == 60
    assert lancaster.policy["overdue"]["grace"] == 600
    assert lancaster.policy["overdue"]["steps"][1] == {"after": 600, "do": "reception_calls_home"}
    assert lancaster.policy["heartbeat"] == {"expect_every": 60, "offline_after": 180}
    assert directory.devices[0].school == "lancaster"  # from its staff member


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400), (45, 45)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "", "m", "-5s", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["schools"][0].update(timezone="Mars/Olympus"),
            'school "lancaster" (1st): timezone',
        ),
        (
            lambda d: d["schools"][0]["contacts"][0].update(phone="01702 000010"),
            'school "lancaster" (1st), contact "cc-1" (1st): phone',
        ),
        (
            lambda d: d["schools"][0]["policy"]["sos"].update(ack_within="soon"),
            'school "lancaster" (1st): policy.sos.ack_within',
        ),
        (
            lambda d: d["schools"][0]["policy"]["sos"].update(tiers=[["janitor"]]),
            'school "lancaster" (1st): policy.sos.tiers',
        ),
        (lambda d: d["staff"][0].update(school="nowhere"), 'staff "s-jones" (1st): school'),
        (lambda d: d["devices"][0].update(staff="nobody"), 'device "sos-0001" (1st): staff'),
        (lambda d: d["users"][0].update(role="superuser"), 'user "reception1" (1st): role'),
        (lambda d: d["users"][1].update(phone="07700 900911"), 'user "dsl1" (2nd): phone'),
        (
            lambda d: d["devices"].append(dict(d["devices"][0])),
            "device \"sos-0001\" (3rd): id: 'sos-0001' is used more than once",
        ),
        (lambda d: d["devices"][0].update(id="bad id!"), 'device "bad id!" (1st): id'),
    ],
)
def test_each_problem_names_its_place(change: Any, expected: str) -> None:
    data = base()
    change(data)
    with pytest.raises(DirectoryError) as caught:
        parse_directory(data)
    assert expected in str(caught.value)


def test_all_problems_are_reported_at_once() -> None:
    data = base()
    data["staff"][0]["school"] = "nowhere"
    data["users"][0]["role"] = "superuser"
    with pytest.raises(DirectoryError) as caught:
        parse_directory(data)
    assert 'staff "s-jones" (1st): school' in str(caught.value)
    assert 'user "reception1" (1st): role' in str(caught.value)


def test_traccar_and_owntracks_names_are_unique_and_owntracks_topics_plain() -> None:
    data = base()
    data["devices"] = [
        {"id": "w1", "staff": "s-jones", "traccar_unique_id": "3580001"},
        {"id": "w2", "staff": "s-jones", "traccar_unique_id": "3580001"},
        {"id": "p1", "staff": "s-jones", "owntracks": "owntracks/sam/#"},
    ]
    with pytest.raises(DirectoryError) as refused:
        parse_directory(data)
    assert "device \"w2\" (2nd): traccar_unique_id: '3580001' is used more than once" in str(
        refused.value
    )
    assert 'device "p1" (3rd): owntracks' in str(refused.value)


def test_a_device_names_where_it_comes_from() -> None:
    data = base()
    data["devices"].append({"id": "w7", "staff": "s-jones", "traccar_unique_id": 358000000000007})
    data["devices"].append({"id": "p1", "staff": "s-jones", "owntracks": "owntracks/sam/phone"})
    devices = {d.id: d for d in parse_directory(data).devices}
    assert devices["w7"].traccar_unique_id == "358000000000007"
    assert devices["p1"].owntracks == "owntracks/sam/phone"
