"""The overdue ladder of a lone home visit as a state machine, against the real service.

Policy (tests/fixtures/visits-directory.yaml, Lancaster): overdue grace 10m, steps
contact_staff at once, reception_calls_home after 10m, inform_slt after 20m. William
Lilley's policy: "If the designated staff do not return to school at the agreed expected
time of return, the member of staff will be contacted on the mobile phone. If contact is
not possible, Reception staff will attempt to contact the Pupil's home. If contact has
not been made or there is any cause for concern, a member of SLT will be informed."
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
)

from service.application import visits
from service.domain import ids
from service.domain.alerts.alert import Alert, Outcome
from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.states import OUT
from service.domain.visits.visit import Visit
from tests.invariants.alarm_machine import check_alarm_invariants
from tests.invariants.harness import Counters, Send, Service
from tests.invariants.service_machine import ServiceMachine, number_answers_in, time_passes_in
from tests.visit_worlds import HAZARDS, VISITS_DIRECTORY

VISITOR = "s-jones"
VISITOR_PHONE = "+447700900001"
DEVICE = "sos-0001"
PHONES = ("+447700900001", "+441702000001", "+441702000013", "+441702000010")
"""The visitor, reception, SLT and the contact centre."""
STAFF_TEXTS = (
    "OK",
    "OK",
    "BACK",
    "LEFT",
    "ARRIVED",
    "HELLO",
    "EXTEND 20",
    "LEFT next: the library",
    "ENDED no responsible adult",
    "CONCERN child alone at home",
)
JUMPS = st.sampled_from([1, 60, 300, 540, 600, 601, 900, 1200, 1800])
"""Mostly minutes: the ladder's steps are ten minutes apart."""


def _as(username: str, role: Role) -> Principal:
    return Principal(username=username, school="lancaster", role=role)


class VisitMachine(ServiceMachine):
    def __init__(self) -> None:
        super().__init__()
        self.svc = Service(VISITS_DIRECTORY)
        self.refs = itertools.count(1)
        self.ids = itertools.count(1)
        self.visits: list[UUID] = []
        self.ended_at: dict[tuple[UUID, int], int] = {}
        """(visit, overdue episode) -> sends seen when that episode's ladder ended."""
        self.acked_at: dict[UUID, int] = {}
        self.own_word: dict[UUID, bool] = {}
        Counters.examples += 1

    def visit(self, visit_id: UUID) -> Visit:
        found: Visit = self.app.repository.get(visit_id)
        return found

    def after_step(self) -> None:
        Counters.steps += 1
        self.svc.settle()
        if not self.svc.up:
            return
        sends = len(self.svc.notifier.sends)
        for visit_id in self.visits:
            visit = self.visit(visit_id)
            episode = (visit_id, visit.overdue_episode)
            if visit.ladder_active:
                Counters.saw("step with an overdue ladder running")
            if visit.overdue_episode and not visit.ladder_active and episode not in self.ended_at:
                self.ended_at[episode] = sends
                Counters.saw(f"overdue ladder ended after {len(visit.steps_taken)} steps")
        for doc in self.svc.c.views.find("alert", limit=100_000):
            alert_id = UUID(doc["id"])
            if doc.get("acknowledged_by") and alert_id not in self.acked_at:
                self.acked_at[alert_id] = sends

    def out(self) -> Visit | None:
        for visit_id in self.visits:
            visit = self.visit(visit_id)
            if visit.state in OUT:
                return visit
        return None

    # -- the visit ------------------------------------------------------------------------------

    @initialize(back_in=st.sampled_from([5, 15, 30]), own_word=st.booleans())
    def the_first_visit_departs(self, back_in: int, own_word: bool) -> None:
        self.a_lone_visit_departs(back_in, own_word)

    @precondition(lambda self: self.svc.up and self.out() is None)
    @rule(back_in=st.sampled_from([5, 15, 30, 60]), own_word=st.booleans())
    def a_lone_visit_departs(self, back_in: int, own_word: bool) -> None:
        """Planned by the DSL, assessed, authorised by the head, signed out with a device
        heard from just now, due back in `back_in` minutes."""
        self.heartbeat()
        now = self.svc.clock.now()
        plan = visits.VisitPlan(
            ref=f"v-{next(self.refs)}",
            school="lancaster",
            staff=[VISITOR],
            pupil_ref="UPN-0042",
            address="12 Mountdale Gardens, Leigh-on-Sea",
            purpose="safe_and_well",
            planned_start=now,
            expected_leave=now + timedelta(minutes=back_in) - timedelta(minutes=3),
            expected_return=now + timedelta(minutes=back_in),
            safe_word="lighthouse" if own_word else None,
        )
        try:
            visit = visits.plan_visit(self.app, plan, _as("dsl1", Role.DSL))
            visits.assess_risk(self.app, visit.id, _as("dsl1", Role.DSL), HAZARDS)
            visits.authorise(self.app, visit.id, _as("head1", Role.HEADTEACHER))
            self.svc.catch_up()
            visits.depart(self.app, self.svc.c.views, visit.id, _as("reception1", Role.OPERATOR))
        except DomainError as exc:
            Counters.saw(f"departure refused: {exc}")
            return  # outside working hours, say: refused, nothing to check
        Counters.saw("visit departed")
        self.visits.append(visit.id)
        self.own_word[visit.id] = own_word
        self.after_step()

    def heartbeat(self) -> None:
        self.svc.send(DEVICE, "heartbeat", {"id": f"h-{next(self.ids)}", "battery": 80})

    @rule()
    def device_heartbeat(self) -> None:
        self.heartbeat()
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(text=st.sampled_from(STAFF_TEXTS))
    def visitor_texts(self, text: str) -> None:
        sid = f"SM-v-{next(self.ids)}"
        self.app.receive_sms(sender=VISITOR_PHONE, body=text, message_sid=sid)
        self.after_step()

    @rule(text=st.sampled_from(["EXTEND 15", "OK", "CONCERN door open, nobody in"]))
    def visitor_sends_from_the_app(self, text: str) -> None:
        """The same texts from the phone app's `message` topic (read once, after recording)."""
        self.svc.send(DEVICE, "message", {"id": f"a-{next(self.ids)}", "text": text})
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(word=st.sampled_from(["staff", "visit"]), channel=st.sampled_from(["sms", "app"]))
    def visitor_uses_a_safe_word(self, word: str, channel: str) -> None:
        """The staff member's safe word, or the visit's own, in a text or the phone app:
        a silent duress alert either way (the visit's word only while that visit is out)."""
        out = self.out()
        applies = word == "staff" or (out is not None and self.own_word.get(out.id, False))
        text = f"running a bit late, {'bluebird' if word == 'staff' else 'lighthouse'}"
        before = self.duress_alerts()
        if channel == "sms":
            sid = f"SM-w-{next(self.ids)}"
            self.app.receive_sms(sender=VISITOR_PHONE, body=text, message_sid=sid)
        else:
            self.svc.send(DEVICE, "message", {"id": f"t-{next(self.ids)}", "text": text})
        self.after_step()
        if applies:
            Counters.saw(f"duress by the {word}'s word over {channel}")
            assert self.duress_alerts() == before + 1, (
                f"the {word}'s safe word by {channel} raised no duress alert"
            )

    def duress_alerts(self) -> int:
        docs = self.svc.c.views.find("alert", limit=100_000)
        return sum(1 for d in docs if d["kind"] == "duress")

    @precondition(lambda self: self.svc.up)
    @rule(resolve=st.booleans(), data=st.data())
    def console(self, resolve: bool, data: st.DataObject) -> None:
        docs = self.svc.c.views.find("alert", limit=100_000)
        if not docs:
            return
        alert_id = UUID(data.draw(st.sampled_from(sorted(d["id"] for d in docs))))
        try:
            if resolve:
                self.app.resolve_alert(alert_id, outcome=Outcome.SAFE, note="safe", by="dsl:dsl1")
            else:
                self.app.acknowledge_alert(alert_id, by="operator:reception1", via="api")
        except DomainError:
            return
        self.after_step()

    # -- sends, time, processes, the store ---------------------------------------------------------

    number_answers = number_answers_in(
        PHONES, ["works", "fails_a_while", "refuses", "dies"], tries=st.integers(1, 5)
    )

    time_passes = time_passes_in(JUMPS)
    # restart, store_goes_down, store_comes_back: ServiceMachine's

    # -- what must always hold ------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if not self.svc.up:
            return
        alerts = [self.app.alert(UUID(d["id"])) for d in self.svc.c.views.find("alert")]
        check_alarm_invariants(self.svc, alerts, self.acked_at)
        check_overdue_invariants(self.svc, [self.visit(v) for v in self.visits], self.ended_at)


def _overdue_alert(visit: Visit, episode: int) -> UUID:
    return ids.alert_id(f"visit:{visit.id}:overdue:{episode}")


def check_overdue_invariants(
    svc: Service, visits_: list[Visit], ended_at: dict[tuple[UUID, int], int]
) -> None:
    now: datetime = svc.clock.now()
    pending: dict[tuple[str, str], list[datetime]] = {}
    for action in ("visit_overdue", "visit_ladder"):
        for t in svc.pending_timers(action):
            pending.setdefault((action, t["visit"]), []).append(datetime.fromisoformat(t["due_at"]))
    for visit in visits_:
        key = str(visit.id)
        if visit.state not in OUT:
            continue
        if visit.ladder_active:
            # An overdue visit has its next ladder step due, or every step was taken and
            # its overdue alert is on the console (open), or a person took that alert.
            due = visit.ladder.next_due()
            if due is not None:
                timers = pending.get(("visit_ladder", key), [])
                assert any(now < d <= due for d in timers), (
                    f"visit {visit.ref} is overdue (episode {visit.overdue_episode}, steps "
                    f"taken {visit.steps_taken}) and its next step, due {due}, has no timer "
                    f"pending after {now} (pending: {timers})"
                )
            else:
                alert: Alert = svc.c.app.alert(_overdue_alert(visit, visit.overdue_episode))
                assert alert.is_open or alert.acknowledged_by, (
                    f"visit {visit.ref}: every ladder step taken and its alert closed by nobody"
                )
        else:
            # Out and not overdue: the return deadline is watched.
            deadline = visit.return_deadline
            timers = pending.get(("visit_overdue", key), [])
            assert deadline is not None and any(now < d <= deadline for d in timers), (
                f"visit {visit.ref} is out, not overdue, and nothing watches its return "
                f"deadline {deadline} after {now} (pending: {timers})"
            )
    # Nothing is sent about an overdue episode after its ladder ended.
    for send in svc.notifier.sends:
        notification = svc.notification(send.key)
        for (visit_id, episode), index in ended_at.items():
            subject = ids.alert_id(f"visit:{visit_id}:overdue:{episode}")
            if notification.alert_id == subject and send.index >= index:
                raise AssertionError(_late(send, notification.step, episode))


def _late(send: Send, step: str, episode: int) -> str:
    return (
        f"{send.channel} to {send.to} ({step}) sent after the overdue ladder of episode "
        f"{episode} ended"
    )
