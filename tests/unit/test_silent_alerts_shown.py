"""A duress alert is silent to the visitor: which readers are shown it on a visit."""

from __future__ import annotations

from service.domain.alerts.alert import AlertKind
from service.domain.people.access import Principal
from service.domain.people.confidentiality import (
    SILENT_KINDS,
    may_see_silent_alerts,
    without_silent_alerts,
)
from service.domain.people.directory import Role


def test_the_silent_kinds_are_the_duress_alerts() -> None:
    assert {AlertKind.DURESS.value} == SILENT_KINDS


def test_only_a_visitor_is_not_shown_a_silent_alert() -> None:
    shown = {role: may_see_silent_alerts(Principal("x", "lancaster", role)) for role in Role}
    assert [role for role, yes in shown.items() if not yes] == [Role.STAFF]


def test_a_visit_without_its_silent_alerts_keeps_the_others() -> None:
    visit = {"id": "v", "alerts": [{"id": "a", "kind": "duress"}, {"id": "b", "kind": "sos"}]}
    assert without_silent_alerts(visit) == {"id": "v", "alerts": [{"id": "b", "kind": "sos"}]}
    assert without_silent_alerts({"id": "v"}) == {"id": "v"}
