"""Who may see and do what: rules a sentence long, each a function."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.people.directory import Role


@dataclass(frozen=True)
class Principal:
    username: str
    school: str | None
    role: Role

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.username}"


ALERT_HANDLERS = frozenset({Role.OPERATOR, Role.DSL, Role.HEADTEACHER, Role.ADMIN})


def can_see_school(principal: Principal, school: str) -> bool:
    """An admin sees every school; everyone else only their own."""
    return principal.role is Role.ADMIN or principal.school == school


def can_handle_alerts(principal: Principal) -> bool:
    """Staff raise alerts; the contact centre, reception, DSL and headteacher take them."""
    return principal.role in ALERT_HANDLERS


SAFEGUARDING_LEADS = frozenset({Role.DSL, Role.HEADTEACHER, Role.ADMIN})


def task_refusal(principal: Principal, for_role: str) -> str | None:
    """Reception's tasks are for whoever takes alerts; a safeguarding concern is for the
    DSL (or the headteacher). None when allowed; otherwise what the person cannot do."""
    if principal.role not in ALERT_HANDLERS:
        return f"a {principal.role.value} cannot see or complete the school's tasks"
    if for_role == Role.DSL.value and principal.role not in SAFEGUARDING_LEADS:
        return f"a {principal.role.value} cannot close a safeguarding concern: it is for the DSL"
    return None
