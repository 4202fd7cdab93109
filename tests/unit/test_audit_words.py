"""The audit trail as an admin reads it (service/records/audit.py): people and browsers."""

from __future__ import annotations

from service.records.audit import client_words, worded

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_a_browser_in_short() -> None:
    assert client_words(f"127.0.0.1 {CHROME}") == "Chrome on Linux, from 127.0.0.1"
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    assert client_words(f"::1 {firefox}") == "Firefox on Windows, from ::1"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    assert client_words(f"10.0.0.7 {iphone}") == "Safari on iOS, from 10.0.0.7"
    assert client_words("?") == "no browser named"


def test_a_line_names_the_person_and_keeps_what_was_recorded() -> None:
    line = {"actor": "admin:admin1", "action": "signed_in", "detail": f"127.0.0.1 {CHROME}"}
    shown = worded(line)
    assert shown["who"] == "admin1 (administrator)" and shown["actor"] == "admin:admin1"
    assert shown["client"] == "Chrome on Linux, from 127.0.0.1"
    assert shown["detail"] == f"127.0.0.1 {CHROME}"
    viewed = worded({"actor": "dsl:dsl1", "action": "timeline", "detail": ""})
    assert viewed["who"] == "dsl1 (DSL)" and "client" not in viewed
