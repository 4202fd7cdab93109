"""A user's mobile, from the directory file: a colleague handing them an alert texts it.
Users recorded before users had a mobile import unchanged (nothing new recorded)."""

from __future__ import annotations

from datetime import UTC, datetime

from service.adapters.directory_file import parse_directory
from service.domain.people.directory import Role, User
from tests.unit.test_directory_file import base

T0 = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_the_file_gives_a_user_a_mobile_or_none() -> None:
    data = base()
    data["users"][1]["phone"] = "+447700900911"
    users = {u.username: u for u in parse_directory(data).users}
    assert users["dsl1"].phone == "+447700900911"
    assert users["reception1"].phone is None


def test_a_user_listed_before_mobiles_existed_imports_unchanged() -> None:
    user = User(username="dsl1", school="lancaster", role="dsl", timestamp=T0)
    user.collect_events()
    assert user.phone is None
    assert not user.listed_as("lancaster", Role.DSL, T0)
    assert user.collect_events() == []


def test_a_mobile_added_in_the_file_is_recorded_once() -> None:
    user = User(username="dsl1", school="lancaster", role="dsl", timestamp=T0)
    user.collect_events()
    assert user.listed_as("lancaster", Role.DSL, T0, phone="+447700900911")
    assert user.phone == "+447700900911"
    assert not user.listed_as("lancaster", Role.DSL, T0, phone="+447700900911")
    assert user.listed_as("lancaster", Role.DSL, T0)  # taken out of the file: gone
    assert user.phone is None
    assert len(user.collect_events()) == 2


def test_a_role_change_recorded_before_console_mobiles_replays_keeping_the_mobile() -> None:
    """A stored event's shape never changes: a `Changed` written before it carried a mobile
    (no `phone` at all) must replay leaving the file's mobile as it was."""
    user = User(
        username="dsl1", school="lancaster", role="dsl", timestamp=T0, phone="+447700900911"
    )
    user.change(by="admin:admin1", school="lancaster", role="headteacher", timestamp=T0)
    events = user.collect_events()
    del events[-1].__dict__["phone"]  # as stored before
    replayed = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None and replayed.phone == "+447700900911"
    assert replayed.role is Role.HEADTEACHER


def test_a_mobile_removed_in_the_console_is_none() -> None:
    user = User(
        username="dsl1", school="lancaster", role="dsl", timestamp=T0, phone="+447700900911"
    )
    user.change(by="admin:admin1", school="lancaster", role="dsl", timestamp=T0, phone="")
    assert user.phone is None
    assert not user.listed_as("lancaster", Role.DSL, T0, phone="+447700900911"), (
        "the file's entry unchanged: the console's removal stands"
    )
