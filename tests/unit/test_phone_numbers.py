"""One rule for a phone number, wherever one is given: the directory file, a visit's
mobile, a companion's, a user's mobile in the console."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.phone_numbers import is_phone_number, phone_problem


@pytest.mark.parametrize("number", ["+447700900001", "+12025550123", "+3531234567"])
def test_international_numbers_are_accepted(number: str) -> None:
    assert phone_problem(number) is None


@pytest.mark.parametrize(
    "number", ["07700900001", "+44 7700 900001", "+07700900001", "+44770", "+4477009000011234"]
)
def test_other_forms_are_refused_with_what_to_type(number: str) -> None:
    assert phone_problem(number, "mobile") == (
        f"mobile {number!r} must be an international number like +447700900001"
    )


@given(st.text(max_size=20))
def test_a_number_accepted_is_a_plus_and_7_to_15_digits(value: str) -> None:
    if is_phone_number(value):
        digits = value[1:]
        assert value[0] == "+" and digits.isascii() and digits.isdigit()
        assert 7 <= len(digits) <= 15 and digits[0] != "0"
