"""The record's rows and its "as it stood" panel say an outcome and an overdue step in the
same words: a DSL reading both to a case review must not find "false alarm" in one and "a
false alarm" in the other, nor "no concern" beside "no cause for concern"."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from projections.visit_timeline import describe
from service.domain.alerts.alert import Outcome
from service.domain.visits.overdue_ladder import CALL_HOME_TASK, Action
from service.domain.visits.rules import CallHomeOutcome
from service.records.as_it_stood import alert_words, visit_words
from service.records.narrative import Narrator
from tests.unit.test_as_it_stood import ALERT, VISIT

LONDON = ZoneInfo("Europe/London")
AT = datetime(2026, 7, 1, 14, 30, tzinfo=UTC)


def _event(qualname: str, **fields: object) -> SimpleNamespace:
    event = type(qualname.split(".")[-1], (SimpleNamespace,), {"__qualname__": qualname})
    return event(originator_id="x", originator_version=3, timestamp=AT, **fields)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_alerts_outcome_reads_the_same_in_the_row_and_the_panel(outcome: Outcome) -> None:
    resolved = _event("Alert.Resolved", by="dsl:dsl1", outcome=outcome.value, note="checked")
    worded = Narrator().words(resolved)
    assert worded is not None
    [row_words] = re.findall(r"resolved by dsl1 \(DSL\): (.*) - checked", worded[1])
    panel = alert_words(
        {**ALERT, "state": "resolved", "outcome": outcome.value, "resolved_by": "dsl:dsl1"},
        LONDON,
    )
    assert any(line.endswith(f": {row_words}.") for line in panel["lines"]), panel["lines"]


@pytest.mark.parametrize("found", list(CallHomeOutcome))
def test_what_reception_found_reads_the_same_in_the_row_and_the_panel(
    found: CallHomeOutcome,
) -> None:
    done = _event(
        "Visit.TaskCompleted", task=CALL_HOME_TASK, by="operator:reception1", outcome=found.value,
        note=None, via="console",
    )  # fmt: skip
    row = describe(done, LONDON)
    assert row is not None
    [row_words] = re.findall(r"\(([^()]*)\)$", row[1]) or [""]
    call = {"by": "operator:reception1", "at": "2026-07-01T14:30:00+00:00", "outcome": found}
    lines = visit_words({**VISIT, "call_home": call}, LONDON)["lines"]
    assert any(line.endswith(f": {row_words}.") for line in lines), (row, lines)


@pytest.mark.parametrize("action", list(Action))
def test_an_overdue_step_reads_the_same_in_the_row_and_the_panel(action: Action) -> None:
    taken = _event("Visit.LadderStepTaken", step=1, action=action.value, decision=None)
    row = describe(taken, LONDON)
    assert row is not None
    row_words = row[1].removeprefix("overdue step 2: ")
    lines = visit_words({**VISIT, "overdue_step": {"step": 2, "action": action.value}}, LONDON)[
        "lines"
    ]
    assert any(f"at step 2 ({row_words})." in line for line in lines), (row, lines)
