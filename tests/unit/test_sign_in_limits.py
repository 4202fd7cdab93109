"""Sign-in limits: by address and name together, so a flood from one address cannot shut
the real user out from hers, and per address, so one address cannot guess across names."""

from __future__ import annotations

from service.domain.people.sign_in_limits import (
    ADDRESS_FAILURES,
    ADDRESS_WINDOW,
    PAIR_FAILURES,
    PAIR_WINDOW,
    Limited,
    SignInLimits,
    client_key,
)

ATTACKER, RECEPTION = "203.0.113.9", "198.51.100.20"


def fail(limits: SignInLimits, address: str, name: str, times: int, now: float = 0.0) -> None:
    for _ in range(times):
        assert limits.check(address, name, now) is None
        limits.failed(address, name, now)


def test_wrong_passwords_for_a_name_from_one_address_shut_only_that_address_out() -> None:
    limits = SignInLimits()
    fail(limits, ATTACKER, "reception1", PAIR_FAILURES)
    assert limits.check(ATTACKER, "reception1", 1.0) == Limited("name", int(PAIR_WINDOW) - 1)
    assert limits.check(RECEPTION, "reception1", 1.0) is None
    assert limits.check(ATTACKER, "dsl1", 1.0) is None


def test_the_name_is_compared_as_a_person_types_it() -> None:
    limits = SignInLimits()
    fail(limits, ATTACKER, "reception1", PAIR_FAILURES)
    assert limits.check(ATTACKER, " Reception1 ", 0.0) is not None


def test_the_wait_ends_when_the_oldest_failure_leaves_the_window() -> None:
    limits = SignInLimits()
    for second in range(PAIR_FAILURES):
        limits.failed(ATTACKER, "dsl1", float(second * 10))
    assert limits.check(ATTACKER, "dsl1", 60.0) == Limited("name", int(PAIR_WINDOW) - 60)
    assert limits.check(ATTACKER, "dsl1", PAIR_WINDOW) is None


def test_an_address_guessing_across_names_is_refused_for_every_name() -> None:
    limits = SignInLimits()
    for n in range(ADDRESS_FAILURES):
        fail(limits, ATTACKER, f"guess-{n}", 1)
    refused = limits.check(ATTACKER, "head1", 2.0)
    assert refused == Limited("address", int(ADDRESS_WINDOW) - 2)
    assert limits.check(RECEPTION, "head1", 2.0) is None


def test_an_address_has_only_a_couple_of_passwords_checked_at_once() -> None:
    limits = SignInLimits(checks_at_once=2)
    limits.checking(ATTACKER)
    limits.checking(ATTACKER)
    assert limits.check(ATTACKER, "anyone", 0.0) == Limited("checking", 1)
    assert limits.check(RECEPTION, "reception1", 0.0) is None
    limits.checked(ATTACKER)
    assert limits.check(ATTACKER, "anyone", 0.0) is None


def test_attempts_turned_away_while_every_check_is_busy_count_against_the_address() -> None:
    limits = SignInLimits(address_failures=3)
    for _ in range(3):
        limits.turned_away(ATTACKER, 0.0)
    assert limits.check(ATTACKER, "anyone", 1.0) == Limited("address", int(ADDRESS_WINDOW) - 1)
    assert limits.check(RECEPTION, "reception1", 1.0) is None


def test_the_right_password_clears_the_name_but_not_the_address() -> None:
    limits = SignInLimits(pair_failures=2, address_failures=3)
    fail(limits, ATTACKER, "mine", 1)
    limits.succeeded(ATTACKER, "mine")
    fail(limits, ATTACKER, "mine", 1)
    assert limits.check(ATTACKER, "mine", 0.0) is None  # the name's count started again
    fail(limits, ATTACKER, "other", 1)
    assert limits.check(ATTACKER, "anyone", 0.0) == Limited("address", int(ADDRESS_WINDOW))


def test_an_ipv6_client_is_one_client_across_its_64() -> None:
    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:2::5") != client_key("2001:db8:1:3::5")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == "?"


def test_memory_stays_bounded_under_made_up_addresses() -> None:
    limits = SignInLimits(max_entries=100)
    for n in range(1000):
        limits.failed(f"10.0.{n // 256}.{n % 256}", "x", 0.0)
    assert limits.sizes() == {"pairs": 100, "addresses": 100}
