"""One duress rule for every channel: the staff member's safe word and their visit's.

'If working as a pair agree a safe word or phrase to alert a colleague that you need
assistance or should leave. The same code word should be used if you contact school to
alert them that you are in danger and need support.' (policy 002)
"""

from __future__ import annotations

from service.adapters.secrets import hash_safe_word, pbkdf2_hash
from service.domain.alerts.duress import Screened, detect_duress, normalise_safe_word

# Fewer iterations than production, so the tests stay fast; the check reads them from the hash.
STAFF_WORD = "1$" + pbkdf2_hash(normalise_safe_word("bluebird"), 100)
VISIT_WORD = "1$" + pbkdf2_hash(normalise_safe_word("lighthouse"), 100)


def test_the_visits_safe_word_is_duress_as_the_staff_members_own_is() -> None:
    assert detect_duress("All fine, Lighthouse!", [STAFF_WORD, VISIT_WORD]) == Screened(
        "All fine, [redacted]!", True
    )
    assert detect_duress("bluebird", [STAFF_WORD, VISIT_WORD]) == Screened("[redacted]", True)


def test_both_words_in_one_text_are_both_masked() -> None:
    """Checking stops at nothing: neither word may be stored in clear."""
    screened = detect_duress("bluebird then lighthouse", [STAFF_WORD, VISIT_WORD])
    assert screened == Screened("[redacted] then [redacted]", True)


def test_an_ordinary_text_is_kept_as_it_is() -> None:
    assert detect_duress("Parking now", [STAFF_WORD, VISIT_WORD]) == Screened("Parking now", False)


def test_no_safe_word_on_file_is_no_duress() -> None:
    assert detect_duress("bluebird", []) == Screened("bluebird", False)
    assert detect_duress("bluebird", [None, None]) == Screened("bluebird", False)


def test_a_visit_that_took_the_staff_members_word_is_checked_once() -> None:
    """The visit's hash is the directory's own when no word was agreed for the visit."""
    word = hash_safe_word("red kite")
    assert detect_duress("I saw a RED KITE", [word, word]) == Screened("I saw a [redacted]", True)
