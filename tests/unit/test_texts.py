"""What staff and contacts can text, and the safe word check."""

from __future__ import annotations

import pytest

from service.adapters import secrets
from service.domain.people.texts import StaffCommand, parse_contact_text, parse_staff_text


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ARRIVED", StaffCommand.ARRIVED),
        ("left now", StaffCommand.LEFT),
        ("Back!", StaffCommand.BACK),
        ("ok", StaffCommand.OK),
        ("help me", StaffCommand.HELP),
        ("hello", None),
        ("", None),
        ("  ?!", None),
    ],
)
def test_staff_commands_are_the_first_word_in_any_case(
    text: str, command: StaffCommand | None
) -> None:
    assert parse_staff_text(text) is command


@pytest.mark.parametrize(
    ("text", "code"), [("ACK", None), ("ack 4db312", "4DB312"), ("Ack: 4DB312 thanks", "4DB312")]
)
def test_contacts_acknowledge_with_ack_and_an_optional_code(text: str, code: str | None) -> None:
    ack = parse_contact_text(text)
    assert ack is not None and ack.code == code


def test_other_contact_texts_are_not_acknowledgements() -> None:
    assert parse_contact_text("acknowledged") is None
    assert parse_contact_text("who is this") is None


@pytest.mark.parametrize(
    ("word", "text", "found"),
    [
        ("bluebird", "all fine BLUEBIRD thanks", True),
        ("red kite", "saw a red, kite", True),
        ("red kite", "red car", False),
        ("bluebird", "blue bird", False),
        ("bluebird", "", False),
    ],
)
def test_the_safe_word_is_found_anywhere_in_a_text_from_its_hash(
    word: str, text: str, found: bool
) -> None:
    hashed = secrets.hash_safe_word(word)
    assert word not in hashed
    assert secrets.contains_safe_word(text, hashed) is found


def test_redaction_removes_the_safe_word() -> None:
    hashed = secrets.hash_safe_word("Red Kite")
    assert secrets.redact_safe_word("OK red kite here", hashed) == ("OK [redacted] here", True)
    assert secrets.redact_safe_word("OK here", hashed) == ("OK here", False)
