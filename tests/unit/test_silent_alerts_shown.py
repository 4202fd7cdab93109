"""A duress alert is silent to the visitor: which readers are shown it on a visit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.core import Effects
from projections.visit_alerts import alert_joins_visit
from service.domain.alerts.alert import AlertKind
from service.domain.people.access import Principal
from service.domain.people.confidentiality import (
    SILENT_KINDS,
    may_see_silent_alerts,
    raised_silent,
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


def test_a_silent_alert_is_dropped_by_its_flag_whatever_its_kind() -> None:
    """An SOS whose message also held the safe word was recorded silent: it is as silent to
    the visitor as a duress alert."""
    visit = {
        "alerts": [
            {"id": "a", "kind": "sos", "silent": True},
            {"id": "b", "kind": "sos", "silent": False},
            {"id": "c", "kind": "duress", "silent": True},
        ]
    }
    assert [a["id"] for a in without_silent_alerts(visit)["alerts"]] == ["b"]


def test_an_entry_from_before_the_flag_is_silent_by_its_kind() -> None:
    """A board row written before the flag was carried (a view not rebuilt since): every
    duress alert was raised silent, so it stays hidden; an SOS of then was not silent."""
    old = {"alerts": [{"id": "a", "kind": "duress"}, {"id": "b", "kind": "sos"}]}
    assert [a["id"] for a in without_silent_alerts(old)["alerts"]] == ["b"]
    assert raised_silent("duress", None) and not raised_silent("sos", None)
    assert raised_silent("sos", True) and not raised_silent("duress", False)


class _Raised:
    """An `Alert.Raised` as projections read it; `silent` absent, as an event stored before
    the flag was recorded would be."""

    __qualname__ = "Alert.Raised"

    def __init__(self, kind: str, **silent: bool) -> None:
        self.originator_id, self.kind, self.device = "al-1", kind, None
        self.cause = {"visit": "v-1"}
        self.timestamp = datetime(2026, 11, 23, 10, tzinfo=UTC)
        vars(self).update(silent)


@pytest.mark.parametrize(
    ("event", "silent"),
    [
        (_Raised("sos", silent=True), True),
        (_Raised("sos", silent=False), False),
        (_Raised("duress"), True),  # stored before the flag: silent by its kind
        (_Raised("sos"), False),
    ],
)
def test_the_board_row_carries_the_alerts_silent_flag(event: _Raised, silent: bool) -> None:
    row = {"id": "v-1", "school": "lancaster", "staff": ["s-jones"], "alerts": []}
    fx = Effects()
    alert_joins_visit(event, lambda kind, key: row if kind == "visit" else None, fx, "v-1")
    [entry] = fx.docs[("visit", "v-1")]["alerts"]
    assert entry["silent"] is silent
