"""Console users, no I/O: the rules an admin's changes are held to, and a user's
sessions ending when they are disabled or their password is reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.people.access import Principal
from service.domain.people.accounts import (
    can_manage_users,
    own_account_refusal,
    password_problem,
    school_problem,
    username_problem,
)
from service.domain.people.directory import Role, User

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
ADMIN = Principal("admin1", None, Role.ADMIN)


def test_only_an_admin_manages_users() -> None:
    assert can_manage_users(ADMIN)
    for role in (Role.STAFF, Role.OPERATOR, Role.DSL, Role.HEADTEACHER):
        assert not can_manage_users(Principal("someone", "lancaster", role))


@pytest.mark.parametrize("name", ["reception1", "a.lead", "k_dsl-2"])
def test_usernames_like_the_directorys_are_accepted(name: str) -> None:
    assert username_problem(name) is None


@pytest.mark.parametrize("name", ["", "a", "Reception1", "has space", "-dash", "x" * 65])
def test_other_usernames_are_refused_with_what_to_send(name: str) -> None:
    assert "lower-case" in (username_problem(name) or "")


def test_a_password_has_at_least_ten_characters() -> None:
    assert password_problem("short") is not None
    assert password_problem("correct horse battery") is None


def test_everyone_but_an_admin_belongs_to_a_school() -> None:
    assert school_problem(Role.OPERATOR, None) == "an operator belongs to a school: give its id"
    assert school_problem(Role.ADMIN, None) is None


def test_an_admin_cannot_lock_themselves_out() -> None:
    assert own_account_refusal(ADMIN, "admin1") is not None  # disable, reset
    assert own_account_refusal(ADMIN, "admin1", role=Role.DSL) is not None
    assert own_account_refusal(ADMIN, "admin1", role=Role.ADMIN) is None
    assert own_account_refusal(ADMIN, "reception1") is None


def test_disabling_or_resetting_ends_sessions_begun_before() -> None:
    user = User(username="reception1", school="lancaster", role="operator", timestamp=T0)
    before = T0 + timedelta(minutes=1)
    assert user.session_counts(before)
    user.disable(by="admin:admin1", reason="left", timestamp=T0 + timedelta(minutes=2))
    assert not user.session_counts(T0 + timedelta(minutes=3))
    user.enable(by="admin:admin1", timestamp=T0 + timedelta(minutes=4))
    assert not user.session_counts(before), "a session from before the disabling stays ended"
    assert user.session_counts(T0 + timedelta(minutes=5))
    user.set_password(password_hash="$argon2id$x", timestamp=T0)
    user.issue_password_link(
        by="admin:admin1",
        digest="d",
        expires_at=T0 + timedelta(days=3),
        reset=True,
        timestamp=T0 + timedelta(minutes=6),
    )
    assert user.password_hash is None
    assert not user.session_counts(T0 + timedelta(minutes=5))


def test_a_reimport_changes_a_user_only_when_the_files_entry_changed() -> None:
    """The directory file is imported at every start: an unchanged file must not undo a
    role an admin changed in the console."""
    user = User(username="dsl1", school="lancaster", role="dsl", timestamp=T0)
    user.change(by="admin:admin1", school="lancaster", role="headteacher", timestamp=T0)
    assert not user.listed_as("lancaster", Role.DSL, T0)
    assert user.role is Role.HEADTEACHER
    assert user.listed_as("lancaster", Role.OPERATOR, T0), "the file changed: it wins"
    assert user.role is Role.OPERATOR


def test_an_invited_user_is_not_listed_until_the_file_names_them() -> None:
    user = User(
        username="a.lead", school="lancaster", role="dsl", timestamp=T0, invited_by="admin:admin1"
    )
    assert user.listed is None
    assert user.listed_as("lancaster", Role.DSL, T0)
    assert user.listed == {"school": "lancaster", "role": "dsl"}
