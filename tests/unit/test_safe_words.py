"""'A staff member's safe word anywhere in a text raises a silent duress alert' —
and the text is never recorded with the safe word in clear."""

from __future__ import annotations

import pytest

from service.adapters.secrets import (
    contains_safe_word,
    hash_safe_word,
    normalise_safe_word,
    pbkdf2_hash,
    redact_safe_word,
)

# Fewer iterations than production, so the tests stay fast; the check reads them from the hash.
BLUEBIRD = pbkdf2_hash(normalise_safe_word("bluebird"), 100)
RED_KITE = pbkdf2_hash(normalise_safe_word("Red Kite"), 100)


@pytest.mark.parametrize(
    "text",
    [
        "bluebird",
        "Running late, BLUEBIRD. Back soon",
        "all fine here...bluebird!",
        "  bluebird  ",
    ],
)
def test_a_one_word_safe_word_is_found_in_any_case_and_punctuation(text: str) -> None:
    assert contains_safe_word(text, BLUEBIRD)


@pytest.mark.parametrize(
    "text", ["I saw a red kite today", "red  KITE", "red-kite", "tell them: Red, kite."]
)
def test_a_two_word_safe_word_is_found_as_consecutive_words(text: str) -> None:
    assert contains_safe_word(text, RED_KITE)


@pytest.mark.parametrize(
    "text", ["", "blue bird", "bluebirds", "a red car and a kite", "kite red", "redkite"]
)
def test_near_misses_are_not_the_safe_word(text: str) -> None:
    assert not contains_safe_word(text, BLUEBIRD)
    assert not contains_safe_word(text, RED_KITE)


def test_no_safe_word_on_file_means_no_duress() -> None:
    assert not contains_safe_word("bluebird", None)


def test_the_safe_word_is_redacted_and_the_rest_kept() -> None:
    assert redact_safe_word("Running late, Bluebird. Back by 4", BLUEBIRD) == (
        "Running late, [redacted]. Back by 4",
        True,
    )
    assert redact_safe_word("red kite, RED KITE", RED_KITE) == ("[redacted], [redacted]", True)


def test_a_text_without_the_safe_word_is_kept_as_it_is() -> None:
    assert redact_safe_word("On my way", BLUEBIRD) == ("On my way", False)


def test_the_production_hash_is_what_the_check_reads() -> None:
    assert contains_safe_word("Call me, Bluebird", hash_safe_word("bluebird"))
