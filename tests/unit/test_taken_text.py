"""The "taken by" text names the person as the console does, never `operator:reception1`."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import taken_message
from service.domain.people.naming import ROLE_WORDS, person

AT = datetime(2026, 12, 4, 15, 2, tzinfo=UTC)


def _text(taken_by: str) -> str:
    return taken_message(
        short_code="K7Q",
        kind=AlertKind.SOS,
        visitor="Rob Ross",
        taken_by=taken_by,
        at=AT,
        timezone="Europe/London",
    )


def test_taken_in_the_console_names_the_person_and_their_role() -> None:
    text = _text("operator:reception1")
    assert "taken by reception1 (contact centre) at 15:02" in text
    assert "operator:" not in text


def test_taken_by_a_phone_contact_keeps_their_name() -> None:
    assert "taken by A. Lead at 15:02" in _text("A. Lead")


@given(
    role=st.sampled_from(sorted(ROLE_WORDS)),
    user=st.from_regex(r"[a-z][a-z0-9.-]{0,12}", fullmatch=True),
)
def test_no_recorded_actor_id_reaches_a_phone(role: str, user: str) -> None:
    text = _text(f"{role}:{user}")
    assert f"{role}:{user}" not in text
    assert person(f"{role}:{user}") in text
