"""Who may see and do what: rules a sentence long, each a function."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.directory import Role


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
