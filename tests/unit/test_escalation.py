"""Who is told first, and what they are told."""

from __future__ import annotations

from datetime import UTC, datetime

from service.adapters.directory_file import load_directory
from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import (
    DEFAULT_TIERS,
    alert_message,
    first_notifications,
    policy_for,
)
from tests.worlds import DIRECTORY


def lancaster() -> dict:
    return load_directory(DIRECTORY).schools[0].as_event_data()


def test_an_sos_goes_first_to_the_contact_centre_contacts() -> None:
    """An SOS ... requests an SMS to the school's contact_centre contacts."""
    plans = first_notifications(kind=AlertKind.SOS, school=lancaster(), body="b")
    assert [(p.contact, p.to) for p in plans] == [
        ("cc-1", "+441702000010"),
        ("cc-2", "+441702000014"),
    ]
    assert all(p.step == "tier1" and "tier 1" in p.reason for p in plans)
    assert {p.purpose for p in plans} == {"first:tier1"}


def test_a_kind_without_its_own_policy_follows_the_sos_policy() -> None:
    school = lancaster()
    school["policy"]["sos"]["tiers"] = [["dsl"], ["headteacher"]]
    policy = policy_for(AlertKind.FALL, school["policy"])
    assert policy is not None
    assert policy.tiers == (("dsl",), ("headteacher",))


def test_no_policy_at_all_uses_the_defaults() -> None:
    policy = policy_for(AlertKind.SOS, {})
    assert policy is not None
    assert [list(t) for t in policy.tiers] == DEFAULT_TIERS


def test_the_message_names_who_where_when_in_school_time_and_how_to_take_it() -> None:
    body = alert_message(
        kind=AlertKind.SOS,
        short_code="4DB312",
        school_name="Lancaster School",
        visitor="Sam Jones",
        device="sos-0001",
        raised_at=datetime(2026, 7, 1, 14, 3, tzinfo=UTC),
        timezone="Europe/London",
    )
    assert body == (
        "LONEWATCH Lancaster School: SOS pressed - Sam Jones (device sos-0001) at 15:03. "
        "Reply ACK 4DB312 to take it."
    )
