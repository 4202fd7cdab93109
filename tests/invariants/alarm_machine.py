"""The alarm path as a state machine: random presses, failures, callbacks, acknowledgements,
restarts, outages and clock jumps against the real service; what must always hold is
checked after every step (docs/invariants.md lists each with its reason).

Policy (tests/fixtures/directory.yaml, Lancaster): sos ack_within 60s, renotify_every 60s,
tiers [[contact_centre], [dsl], [headteacher, slt]]; Kingsdown has the default policy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from hypothesis import strategies as st
from hypothesis.stateful import (
    invariant,
    precondition,
    rule,
)

from service.application import acknowledgement, outbox
from service.application.device_outcomes import Intaken
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind, AlertState, Outcome
from service.domain.alerts.escalation import policy_for
from service.domain.errors import DomainError
from service.domain.people.directory import School
from service.domain.people.texts import HELP_REPLY
from tests.invariants.harness import Counters, Send, Service
from tests.invariants.service_machine import ServiceMachine, number_answers_in, time_passes_in
from tests.worlds import DIRECTORY

DEVICES = ("sos-0001", "sos-0002")
STAFF_PHONES = {"s-jones": "+447700900001", "k-smith": "+447700900002"}
SAFE_WORDS = {"s-jones": "bluebird", "k-smith": "red kite"}
CONTACT_PHONES = (
    "+441702000010",
    "+441702000014",
    "+441702000011",
    "+441702000012",
    "+441702000013",
    "+441702000110",
)
JUMPS = st.sampled_from([1, 5, 20, 30, 59, 60, 61, 90, 119, 120, 180, 300, 600, 3600])
SMS_STATUSES = ("sent", "delivered", "undelivered", "failed")
CALL_STATUSES = ("ringing", "in-progress", "completed", "no-answer", "busy", "failed")


class AlarmMachine(ServiceMachine):
    database: ClassVar[Callable[[], AbstractContextManager[str]] | None] = None
    """Where each example's store lives: a PostgreSQL database of its own, or SQLite."""

    def __init__(self) -> None:
        super().__init__()
        self.svc = Service(DIRECTORY, database=type(self).database)
        self.msg_ids = itertools.count(1)
        self.sids = itertools.count(1)
        self.sent_messages: list[tuple[str, str, dict[str, Any]]] = []
        self.acked_at: dict[UUID, int] = {}
        """Alert id -> how many sends the notifier had seen when it was acknowledged."""
        self.ladder_alerts: set[UUID] = set()
        self.answered: dict[str, tuple[str, str, str | None]] = {}
        """MessageSid -> (sender, text, the reply it got): what Twilio may post again."""
        self.told_device: dict[tuple[str, str], tuple[str, dict[str, Any], UUID]] = {}
        """(device, message id) -> its kind, body and the alert its `alert_received` named:
        what a repeat of it must be answered with again (the device may not have heard it)."""
        Counters.examples += 1

    # -- helpers ---------------------------------------------------------------------------

    def alerts(self) -> list[Alert]:
        docs = self.svc.c.views.find("alert", limit=100_000)
        return [self.app.alert(UUID(i)) for i in sorted(d["id"] for d in docs)]

    def after_step(self) -> None:
        Counters.steps += 1
        self.svc.settle()
        if self.svc.up:
            self.note_acknowledgements()

    def note_acknowledgements(self) -> None:
        for alert in self.alerts():
            if alert.acknowledged_by is not None and alert.id not in self.acked_at:
                self.acked_at[alert.id] = len(self.svc.notifier.sends)
                Counters.saw(f"{alert.kind.value} alert taken")

    def sent_ok(self, channel: str | None = None) -> list[Send]:
        """Sent messages, in a canonical order: the dispatcher sends concurrently (as in
        production), so the order of the notifier's record varies from run to run, and a
        choice among them must not (hypothesis replays choices by position)."""
        return sorted(
            (
                s
                for s in self.svc.notifier.sends
                if s.provider_id is not None and (channel is None or s.channel == channel)
            ),
            key=lambda s: (s.key, s.provider_id or ""),
        )

    # -- devices ------------------------------------------------------------------------------

    @rule(device=st.sampled_from(DEVICES), kind=st.sampled_from(["sos", "sos", "fall"]))
    def press(self, device: str, kind: str) -> None:
        body = {"id": f"m-{next(self.msg_ids)}", "lat": 51.54, "lon": 0.71}
        self.sent_messages.append((device, kind, body))
        self.note_answer(device, kind, body, self.svc.send(device, kind, body))
        self.after_step()

    def note_answer(
        self, device: str, kind: str, body: dict[str, Any], result: Intaken | None
    ) -> None:
        if result is not None and result.announced and result.alert_id is not None:
            self.told_device.setdefault((device, body["id"]), (kind, body, result.alert_id))

    @precondition(lambda self: bool(self.sent_messages))
    @rule(data=st.data())
    def device_repeats_a_message(self, data: st.DataObject) -> None:
        """The broker redelivers, or the device resends: the same message id again."""
        device, kind, body = data.draw(st.sampled_from(self.sent_messages))
        self.repeat(device, kind, body)

    @precondition(lambda self: bool(self.told_device))
    @rule(data=st.data())
    def device_repeats_what_it_was_answered(self, data: st.DataObject) -> None:
        """A press or a HELP the device was answered `alert_received` for, sent again (it
        did not hear the answer): drawn apart, so a repeated HELP is tried often."""
        device, message = data.draw(st.sampled_from(sorted(self.told_device)))
        kind, body, _ = self.told_device[(device, message)]
        self.repeat(device, kind, body)

    def repeat(self, device: str, kind: str, body: dict[str, Any]) -> None:
        """A message answered `alert_received` (a press, a HELP) is answered so again,
        naming the same alert: the device repeats because it did not hear the answer."""
        again = self.svc.send(device, kind, body)
        self.after_step()
        told = self.told_device.get((device, body["id"]))
        if told is not None and again is not None:
            assert again.announced and again.alert_id == told[2], (
                f"a repeated {kind} was answered {again.alert_id} (announced: "
                f"{again.announced}), first {told[2]}"
            )
            Counters.saw(f"a repeated {kind} answered again")
        self.note_answer(device, kind, body, again)

    def texted(self, staff: str, text: str, sid: str) -> str | None:
        """A staff member's text by SMS, through the webhook's use case: the reply, or None
        when the store was down (Twilio posts it again; nothing is answered meanwhile)."""
        try:
            reply = self.app.receive_sms(sender=STAFF_PHONES[staff], body=text, message_sid=sid)
        except PersistenceError:
            self.after_step()
            return None
        self.answered[sid] = (STAFF_PHONES[staff], text, reply)
        self.after_step()
        return reply or ""

    @rule(staff=st.sampled_from(sorted(STAFF_PHONES)), channel=st.sampled_from(["sms", "app"]))
    def duress(self, staff: str, channel: str) -> None:
        """The staff safe word in a text (SMS) or typed in the phone app (a `message`)."""
        text = f"all fine here, {SAFE_WORDS[staff]}, back soon"
        if channel == "sms":
            sid = f"SM-duress-{next(self.sids)}"
            if self.texted(staff, text, sid) is not None:
                assert self.app.exists(ids.alert_id(f"sms:{sid}")), "duress by SMS raised no alert"
            return
        device = "sos-0001" if staff == "s-jones" else "sos-0002"
        body = {"id": f"t-{next(self.msg_ids)}", "text": text}
        self.sent_messages.append((device, "message", body))
        self.svc.send(device, "message", body)
        self.after_step()

    @rule(
        staff=st.sampled_from(sorted(STAFF_PHONES)),
        channel=st.sampled_from(["sms", "app"]),
        safe_word=st.booleans(),
    )
    def help(self, staff: str, channel: str, safe_word: bool) -> None:
        """HELP by text or typed in the phone app, alone or with the safe word: one rule for
        both channels (INTERFACES.md section 3, "`HELP` raises an SOS"). With the safe word it
        raises the silent duress alert instead, and is answered exactly as HELP alone."""
        text = f"help, {SAFE_WORDS[staff]}" if safe_word else "HELP"
        wanted = AlertKind.DURESS if safe_word else AlertKind.SOS
        if channel == "sms":
            sid = f"SM-help-{next(self.sids)}"
            reply = self.texted(staff, text, sid)
            if reply is None:  # the store was down: Twilio posts it again
                return
            answered = reply == HELP_REPLY
            key = ids.alert_key_for_text(sid)
        else:
            device = "sos-0001" if staff == "s-jones" else "sos-0002"
            body = {"id": f"h-{next(self.msg_ids)}", "text": text}
            self.sent_messages.append((device, "message", body))
            result = self.svc.send(device, "message", body)
            self.after_step()
            if result is None:  # held while the store is down: sent again when it is back
                return
            self.note_answer(device, "message", body, result)
            answered = result.announced  # `alert_received`, as for a press
            key = ids.alert_key_for_message(ids.device_message_id(device, body["id"]))
        if self.svc.up:
            raised = self.app.exists(ids.alert_id(key)) and self.app.alert(ids.alert_id(key))
            assert raised, f"HELP by {channel} raised no alert"
            assert raised.kind is wanted, f"HELP by {channel} raised {raised.kind}, not {wanted}"
            Counters.saw(f"help by {channel}{' with the safe word' if safe_word else ''}")
        assert answered, f"HELP by {channel} was not answered as HELP"

    # -- the notifier's answers -----------------------------------------------------------------

    number_answers = number_answers_in(
        CONTACT_PHONES,
        ["works", "fails_a_while", "fails_a_while", "refuses", "dies"],
        tries=st.integers(1, 6),
    )

    @precondition(lambda self: self.svc.up and bool(self.sent_ok()))
    @rule(data=st.data())
    def status_callback(self, data: st.DataObject) -> None:
        """Twilio's callbacks: late, repeated, out of order (any send, any status, any time)."""
        send = data.draw(st.sampled_from(self.sent_ok()))
        raw = data.draw(st.sampled_from(CALL_STATUSES if send.channel == "voice" else SMS_STATUSES))
        answered_by = data.draw(st.sampled_from([None, "human", "machine_start"]))
        status = outbox.delivery_status(send.channel, raw, answered_by)
        assert send.provider_id is not None
        outbox.report_status(
            self.app,
            UUID(send.key),
            status=status,
            provider_id=send.provider_id,
            answered_by=answered_by,
        )
        self.after_step()

    # -- people taking alerts --------------------------------------------------------------------

    @precondition(lambda self: self.svc.up and bool(self.sent_ok("voice")))
    @rule(data=st.data(), digits=st.sampled_from(["1", "1", "2", "#"]))
    def key_press(self, data: st.DataObject, digits: str) -> None:
        send = data.draw(st.sampled_from(self.sent_ok("voice")))
        acknowledgement.acknowledge_by_key(self.app, UUID(send.key), digits)
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(data=st.data(), to=st.sampled_from(CONTACT_PHONES), bare=st.booleans())
    def ack_by_sms(self, data: st.DataObject, to: str, bare: bool) -> None:
        alerts = self.alerts()
        code = (
            ids.short_code(data.draw(st.sampled_from([a.id for a in alerts]))) if alerts else "ZZZZ"
        )
        body = "ACK" if bare else f"ACK {code}"
        sid = f"SM-ack-{next(self.sids)}"
        self.answered[sid] = (to, body, self.app.receive_sms(sender=to, body=body, message_sid=sid))
        self.after_step()

    @precondition(lambda self: self.svc.up and bool(self.answered))
    @rule(data=st.data())
    def twilio_retries_a_text(self, data: st.DataObject) -> None:
        """Twilio posts a text again when our answer was slow: whatever happened since, the
        phone gets the answer it got first (not silence), and nothing is recorded again."""
        sid = data.draw(st.sampled_from(sorted(self.answered)))
        sender, body, first = self.answered[sid]
        text_id = ids.inbound_sms_id(sid)
        before = len(self.app.recorder.select_events(text_id))
        again = self.app.receive_sms(sender=sender, body=body, message_sid=sid)
        assert again == first, f"a retried text was answered {again!r}, first {first!r}"
        assert len(self.app.recorder.select_events(text_id)) == before, "recorded again"
        self.after_step()

    @precondition(lambda self: self.svc.up)
    @rule(data=st.data(), resolve=st.booleans())
    def console(self, data: st.DataObject, resolve: bool) -> None:
        alerts = self.alerts()
        if not alerts:
            return
        alert_id = data.draw(st.sampled_from([a.id for a in alerts]))
        try:
            if resolve:
                self.app.resolve_alert(
                    alert_id, outcome=Outcome.SAFE, note="rang back: safe", by="dsl:dsl1"
                )
            else:
                self.app.acknowledge_alert(alert_id, by="operator:reception1", via="api")
        except DomainError:
            pass
        self.after_step()

    # -- time, processes and the store -------------------------------------------------------------

    time_passes = time_passes_in(JUMPS)
    # restart, store_goes_down, store_comes_back: ServiceMachine's

    # -- what must always hold ----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if not self.svc.up:
            return
        check_alarm_invariants(self.svc, self.alerts(), self.acked_at)


def _interval(app: Any, alert: Alert) -> int | None:
    school = app.load(ids.school_id(alert.school), School, "school")
    policy = policy_for(alert.kind, dict(school.data).get("policy", {}))
    if policy is None:
        return None
    return min(policy.ack_within, policy.renotify_every)


def check_alarm_invariants(svc: Service, alerts: list[Alert], acked_at: dict[UUID, int]) -> None:
    app = svc.c.app
    now: datetime = svc.clock.now()
    by_id = {a.id: a for a in alerts}
    timers: dict[str, list[datetime]] = {}
    for t in svc.pending_timers("escalate"):
        timers.setdefault(t["alert_id"], []).append(datetime.fromisoformat(t["due_at"]))
    failure_about = {
        str(a.cause.get("alert"))
        for a in alerts
        if a.kind is AlertKind.NOTIFICATION_FAILED and a.is_open
    }

    requested = {
        (n["alert_id"], n["step"], n["contact"], n["channel"])
        for n in svc.c.views.find("notification", limit=100_000)
    }
    for alert in alerts:
        # 1. An open, unacknowledged alarm has its next step due within its policy's
        #    interval (and not overdue: the scheduler has run), or a visible failure alert.
        interval = _interval(app, alert)
        if alert.state in (AlertState.RAISED, AlertState.NOTIFIED) and interval is not None:
            due = timers.get(str(alert.id), [])
            on_time = [d for d in due if now < d <= now + timedelta(seconds=interval)]
            assert on_time or str(alert.id) in failure_about, (
                f"{alert.kind.value} alert {alert.id} (raised {alert.raised_at}, now {now}) "
                f"is open and untaken with no next step due within {interval}s "
                f"(pending escalate timers due {due}) and no notification-failure alert; "
                f"steps: {[s['step'] for s in alert.escalation_steps]}"
            )
        # 2. No step is skipped silently: tiers are added one by one, in order, and every
        #    step's notifications were requested (or it says why there are none).
        tier = 0
        for step in alert.escalation_steps:
            assert step["reason"], f"a step without a reason: {step}"
            if step["step"].startswith("tier"):
                assert int(step["tier"]) == tier + 1 and step["step"] == f"tier{tier + 1}", (
                    f"alert {alert.id}: {step['step']} after tier {tier}: a tier was skipped "
                    f"({[s['step'] for s in alert.escalation_steps]})"
                )
            assert int(step["tier"]) == tier or step["step"].startswith("tier"), (
                f"alert {alert.id}: tier {tier} became {step['tier']} in a {step['step']} step"
            )
            tier = int(step["tier"])
            for planned in step["notified"]:
                wanted = (str(alert.id), step["step"], planned["contact"], planned["channel"])
                assert wanted in requested, (
                    f"alert {alert.id}: step {step['step']} planned a {planned['channel']} to "
                    f"{planned['contact']} and no notification was requested"
                )

    for send in svc.notifier.sends:
        notification = svc.notification(send.key)
        subject = by_id.get(notification.alert_id)
        # 3. After acknowledgement nothing is sent but the "taken by" notices.
        taken_at = acked_at.get(notification.alert_id)
        if taken_at is not None and send.index >= taken_at:
            assert notification.step == "taken", (
                f"{send.channel} to {send.to} ({notification.step}) sent after alert "
                f"{notification.alert_id} was taken"
            )
        # 5. Duress sends nothing to the visitor.
        if subject is not None and subject.kind is AlertKind.DURESS:
            assert send.to not in STAFF_PHONES.values(), (
                f"a duress alert's {send.channel} went to the visitor {send.to}"
            )

    check_common_invariants(svc)


def check_common_invariants(svc: Service) -> None:
    # 4. Each notification id is sent at most once (counted at the notifier).
    counts: dict[str, int] = {}
    for send in svc.notifier.sends:
        if send.provider_id is not None:
            counts[send.key] = counts.get(send.key, 0) + 1
            assert counts[send.key] == 1, f"notification {send.key} was sent twice"
    # 6. Every device message the intake accepted is recorded exactly once.
    stored = svc.count_device_messages()
    for device, msg_id in svc.accepted:
        key = ids.device_message_id(device, msg_id)
        assert stored.get(key) == 1, f"{device} message {msg_id} recorded {stored.get(key, 0)}x"
    assert len(stored) == len(svc.accepted), (
        f"{len(stored)} device messages stored, {len(svc.accepted)} accepted"
    )
    # 7. Nothing stays in the outbox: every requested notification was tried to its end.
    stuck = svc.c.views.find("notification", states=["requested"], limit=100_000)
    assert not stuck, f"requested and never sent, failed or cancelled: {stuck[:3]}"
