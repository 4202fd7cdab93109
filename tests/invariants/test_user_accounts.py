"""A console user through any order of admin changes, directory imports and sign-ins:
what must always hold (docs/users.md).

- A disabled user has no session that counts (and so no working session or token).
- A session begun before the user's last disabling or password reset never counts again,
  whatever happens after (enabling them does not bring it back).
- A re-import of an unchanged directory entry never undoes a change made in the console;
  a changed entry is applied.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from service.domain.people.directory import Role, User

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
ROLES = st.sampled_from([Role.OPERATOR, Role.DSL, Role.HEADTEACHER])


class UserAccount(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.user = User(username="reception1", school="lancaster", role="operator", timestamp=T0)
        self.file_role = Role.OPERATOR  # the directory file's entry at its last import
        self.role = Role.OPERATOR  # what the user is now, by the model
        self.sessions: list[datetime] = []
        self.ended_before = T0 - timedelta(seconds=1)  # sessions begun at or before: ended
        self.disabled = False
        self.has_password = False

    @rule(seconds=st.integers(min_value=0, max_value=3600))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def password_set(self) -> None:
        self.user.set_password(password_hash="$argon2id$x", timestamp=self.now)
        self.has_password = True

    @precondition(lambda self: self.has_password and not self.disabled)
    @rule()
    def signs_in(self) -> None:
        self.sessions.append(self.now)

    @rule(reason=st.text(max_size=20))
    def disabled_by_admin(self, reason: str) -> None:
        if not self.user.disabled:
            self.user.disable(by="admin:admin1", reason=reason, timestamp=self.now)
            self.disabled = True
            self.ended_before = self.now

    @rule()
    def enabled_by_admin(self) -> None:
        if self.user.disabled:
            self.user.enable(by="admin:admin1", timestamp=self.now)
            self.disabled = False

    @rule()
    def password_reset(self) -> None:
        self.user.issue_password_link(
            by="admin:admin1",
            digest="d",
            expires_at=self.now + timedelta(days=3),
            reset=True,
            timestamp=self.now,
        )
        self.has_password = False
        self.ended_before = self.now

    @rule(role=ROLES)
    def role_changed_in_console(self, role: Role) -> None:
        self.user.change(by="admin:admin1", school="lancaster", role=role.value, timestamp=self.now)
        self.role = role

    @rule(role=ROLES)
    def directory_imported(self, role: Role) -> None:
        changed = self.user.listed_as("lancaster", role, self.now)
        assert changed == (role != self.file_role)
        if role != self.file_role:
            self.role = role
        self.file_role = role

    @invariant()
    def a_disabled_user_has_no_session_that_counts(self) -> None:
        if self.disabled:
            assert not any(self.user.session_counts(s) for s in self.sessions)

    @invariant()
    def a_session_from_before_the_last_disabling_or_reset_never_counts(self) -> None:
        for started in self.sessions:
            counts = self.user.session_counts(started)
            assert counts == (not self.disabled and started > self.ended_before)

    @invariant()
    def the_role_is_the_last_decision(self) -> None:
        assert self.user.role is self.role
        assert self.user.password_hash is None or self.has_password


TestUserAccount = UserAccount.TestCase
