"""What a visitor's text raises, by SMS or from the phone app: one rule for both.

"`HELP` raises an SOS. A staff member's safe word anywhere in a text raises a silent duress
alert: the reply (if any) must not differ from an ordinary one." (INTERFACES.md section 3)
"""

from __future__ import annotations

import pytest

from service.domain.alerts.alert import AlertKind
from service.domain.visits.commands import parse_visitor_text
from service.domain.visits.text_alarms import asks_for_help, text_alarm


@pytest.mark.parametrize("text", ["HELP", "help", "Help!", "help me", "  HELP - now"])
def test_help_in_any_case_raises_an_sos(text: str) -> None:
    assert text_alarm(parse_visitor_text(text), duress=False) is AlertKind.SOS


@pytest.mark.parametrize("text", ["OK", "I need help", "helpful neighbour", "", "EXTEND 20"])
def test_other_texts_raise_nothing(text: str) -> None:
    assert text_alarm(parse_visitor_text(text), duress=False) is None


def test_the_safe_word_raises_duress_and_nothing_else_even_with_help() -> None:
    command = parse_visitor_text("HELP [redacted]")
    assert text_alarm(command, duress=True) is AlertKind.DURESS
    assert text_alarm(parse_visitor_text("all fine [redacted]"), duress=True) is AlertKind.DURESS


def test_help_with_the_safe_word_is_still_answered_as_help() -> None:
    """The reply must not differ from an ordinary one: HELP is answered as HELP."""
    assert asks_for_help(parse_visitor_text("HELP [redacted]"))
    assert not asks_for_help(parse_visitor_text("OK [redacted]"))
