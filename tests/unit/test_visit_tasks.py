"""Who may do a visit's tasks, and which visit a task id names: rules a line long."""

from __future__ import annotations

from uuid import uuid4

from service.domain.people.access import Principal, task_refusal
from service.domain.people.directory import Role
from service.domain.visits.overdue_ladder import call_home_task
from service.domain.visits.tasks import concern_task, task_for_role, task_visit


def _as(role: Role) -> Principal:
    return Principal(username="u", school="lancaster", role=role)


def test_reception_tasks_are_for_whoever_takes_alerts_not_staff() -> None:
    assert task_refusal(_as(Role.OPERATOR), "reception") is None
    assert task_refusal(_as(Role.DSL), "reception") is None
    assert task_refusal(_as(Role.STAFF), "reception") == (
        "a staff cannot see or complete the school's tasks"
    )


def test_a_safeguarding_concern_is_closed_by_the_dsl_not_reception() -> None:
    """'a safeguarding concern in the report is a task for the DSL'."""
    assert task_refusal(_as(Role.DSL), "dsl") is None
    assert task_refusal(_as(Role.HEADTEACHER), "dsl") is None
    assert "it is for the DSL" in str(task_refusal(_as(Role.OPERATOR), "dsl"))


def test_a_task_id_names_its_visit_and_who_it_is_for() -> None:
    visit = uuid4()
    assert task_visit(call_home_task(visit, 2)) == visit
    assert task_visit(concern_task(visit)) == visit
    assert task_for_role(concern_task(visit)) == "dsl"
    assert task_for_role(call_home_task(visit, 1)) == "reception"
    assert task_visit("visit-call-home:not-a-uuid:1") is None
    assert task_visit("something-else:" + str(visit)) is None
