"""The escalation ladder over time: decide(state, command, now) -> steps; evolve(state, step).

Plain functions over plain values (the shape of eventsourcing's examples/aggregate6):
the application folds an alert's recorded steps into an `EscalationState`, asks
`decide` what to do now, and records each `Step` (as `Alert.Escalated`) with the
notifications it requests. Nothing here sends anything or reads a clock.

Until a person acknowledges, the ladder wakes every `renotify_every` and adds the
next tier after each `ack_within`; red alerts are also called (voice), amber ones
only texted. A new tier's first word is never delayed; reminders to someone already
told back off per contact and channel (`LIMITS`, docs/escalation.md), so the ladder
keeps going without becoming noise. A number the provider refuses for good is never
asked again on that alert, and a tier nobody in it can be reached is passed at once.
Tier 1's texts are requested with the alert itself (one transaction); the "start"
step, due at once, adds the calls and snapshots the policy, so a replay explains
every later message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import (
    OWN_LADDER,
    POLICY_KEYS,
    Contact,
    PlannedNotification,
    Policy,
    contacts_in,
    policy_for,
)
from service.domain.alerts.limits import LIMITS, Limits
from service.domain.alerts.notifications import Channel

RED_KINDS = frozenset(
    {
        AlertKind.SOS,
        AlertKind.FALL,
        AlertKind.DURESS,
        AlertKind.OVERDUE,
        AlertKind.NOTIFICATION_FAILED,
        AlertKind.ARC_UNREACHABLE,
    }
)


# -- steps and state ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A provider's permanent refusal of one contact's channel, in words a person can act on."""

    contact: str
    channel: Channel
    words: str
    code: int | None = None

    def as_data(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "channel": self.channel.value,
            "words": self.words,
            "code": self.code,
        }

    @staticmethod
    def from_data(data: dict[str, Any]) -> Refusal:
        code = data.get("code")
        return Refusal(
            contact=str(data["contact"]),
            channel=Channel(data["channel"]),
            words=str(data["words"]),
            code=int(code) if code is not None else None,
        )


@dataclass(frozen=True)
class Step:
    """One decision of the ladder, recorded as `Alert.Escalated` with its reason."""

    step: str
    reason: str
    notify: tuple[PlannedNotification, ...]
    tier: int
    round: int
    told: tuple[Contact, ...]
    """Everyone told so far, after this step."""
    next_due_at: datetime | None
    policy: Policy | None = None
    taken_by: str | None = None
    at: datetime | None = None
    """When the step was due (the clock may be later: a late tick): what rate limits count."""
    sent: tuple[tuple[str, Channel], ...] = ()
    """(contact, channel) of what this step requested; read back from the store."""
    refused: tuple[Refusal, ...] = ()

    def requested(self) -> tuple[tuple[str, Channel], ...]:
        return tuple((p.contact, p.channel) for p in self.notify) or self.sent


@dataclass(frozen=True)
class EscalationState:
    started: bool = False
    stopped: bool = False
    policy: Policy | None = None
    raised_at: datetime | None = None
    tier: int = 0
    round: int = 0
    told: tuple[Contact, ...] = ()
    next_due_at: datetime | None = None
    sent: Mapping[tuple[str, Channel], tuple[datetime, ...]] = field(default_factory=dict)
    """When each contact was messaged on each channel (the steps' due times)."""
    refused: Mapping[tuple[str, Channel], Refusal] = field(default_factory=dict)
    tier_contacts: tuple[str, ...] = ()
    """Who the current tier added: when none of them can be reached, the next tier is due."""

    def channels(self, contact: str, kind: AlertKind) -> tuple[Channel, ...]:
        """The channels the ladder uses for `contact`: the kind's, less any refused; when all of
        those are refused, any other channel not refused (an amber alert's text refused: a call)."""
        usable = tuple(c for c in channels_for(kind) if (contact, c) not in self.refused)
        return usable or tuple(c for c in Channel if (contact, c) not in self.refused)

    def reachable(self, contact: str) -> bool:
        return any((contact, c) not in self.refused for c in Channel)


@dataclass(frozen=True)
class Messages:
    """What people are told: the text (with the ACK code) and the words a call reads out."""

    sms: str
    say: str


@dataclass(frozen=True)
class Start:
    kind: AlertKind
    raised_at: datetime
    school: dict[str, Any]
    messages: Messages


@dataclass(frozen=True)
class Tick:
    school: dict[str, Any]
    messages: Messages


@dataclass(frozen=True)
class Refused:
    """The provider refused a contact's number for good on one channel (invalid, STOP, …)."""

    refusal: Refusal
    notification: str
    """The refused notification's id: a fallback on the other channel is named after it."""
    school: dict[str, Any]
    messages: Messages


@dataclass(frozen=True)
class Stop:
    taken_by: str
    taker: str | None
    """The contact id of whoever took it, if a contact: they are not told their own news."""
    message: str
    school: dict[str, Any] | None = None
    """Taken before the ladder started: tier 1 was already texted with the alert, so tier 1
    (of this school's policy for `kind`) is who was told."""
    kind: AlertKind | None = None


Command = Start | Tick | Refused | Stop


def next_due(state: EscalationState) -> datetime | None:
    """When the ladder next wakes: the next tier or the next round, never later than one
    `renotify_every` after the last round (rate limits hold reminders back, not the ladder)."""
    if state.stopped or state.policy is None or state.raised_at is None:
        return None
    policy = state.policy
    candidates = [state.raised_at + policy.every * (state.round + 1)]
    if state.tier < len(policy.tiers):
        candidates.append(state.raised_at + timedelta(seconds=policy.ack_within * state.tier))
    return min(candidates)


def channels_for(kind: AlertKind) -> tuple[Channel, ...]:
    """Red alerts are texted and called; amber ones only texted."""
    return (Channel.SMS, Channel.VOICE) if kind in RED_KINDS else (Channel.SMS,)


def _plan(
    contact: Contact,
    channel: Channel,
    messages: Messages,
    reason: str,
    step: str,
    purpose: str,
    prefix: str = "",
) -> PlannedNotification:
    return PlannedNotification(
        contact=contact.id,
        contact_name=contact.name,
        to=contact.phone,
        channel=channel,
        body=prefix + (messages.say if channel is Channel.VOICE else messages.sms),
        reason=reason,
        step=step,
        purpose=purpose,
    )


def decide(
    state: EscalationState,
    command: Command,
    now: datetime,
    kind: AlertKind,
    limits: Limits = LIMITS,
) -> list[Step]:
    """What the ladder does now. Empty when there is nothing to do (so a repeat is harmless)."""
    if isinstance(command, Start):
        return _start(state, command, now, kind)
    if isinstance(command, Stop):
        return _stop(state, command)
    if isinstance(command, Refused):
        return _refused(state, command, now, kind)
    return _tick(state, command, now, kind, limits)


def _start(state: EscalationState, command: Start, now: datetime, kind: AlertKind) -> list[Step]:
    if state.started:
        return []
    policy = policy_for(kind, command.school.get("policy", {}))
    if policy is None:
        reason = OWN_LADDER.get(
            kind, f"no {POLICY_KEYS.get(kind, kind.value)} policy: shown on the console only"
        )
        return [Step("console", reason, (), tier=0, round=0, told=(), next_due_at=None)]
    tier1 = contacts_in(command.school, policy.tiers[0]) if policy.tiers else ()
    calls = tuple(c for c in channels_for(kind) if c is not Channel.SMS)
    reason = (
        f"policy {policy.name}: tier 1 ({', '.join(policy.tiers[0])}) told at once "
        f"(texted with the alert{'; called too: a red alert' if calls else ''})"
    )
    first = Step(
        step="tier1",
        reason=reason,
        notify=tuple(
            _plan(c, ch, command.messages, reason, "tier1", "first:tier1")
            for c in tier1
            for ch in calls
        ),
        tier=1,
        round=0,
        told=tier1,
        next_due_at=None,
        policy=policy,
        at=command.raised_at,
    )
    current = evolve(state, first)
    # A tier 1 with nobody to tell is passed at once, like one whose numbers are refused.
    tiers = _tiers(current, command.school, command.messages, max(now, command.raised_at), kind)
    steps = [first, *tiers]
    steps[-1] = replace(steps[-1], next_due_at=next_due(reduce(evolve, tiers, current)))
    return steps


def _when(at: datetime) -> str:
    return f"{at:%H:%M:%S %Z}".strip()


def _tick(
    state: EscalationState, command: Tick, now: datetime, kind: AlertKind, limits: Limits
) -> list[Step]:
    if not state.started or state.stopped or state.policy is None or state.raised_at is None:
        return []
    policy, elapsed = state.policy, (now - state.raised_at).total_seconds()
    steps: list[Step] = []
    current = state
    # A round: reminders to everyone told whose limits allow one now; the rest are held back
    # (and said so), and the round is recorded either way so the ladder always has a next wake.
    rounds_due = int(elapsed // policy.renotify_every)
    if rounds_due > current.round:
        at = state.raised_at + policy.every * rounds_due
        name = f"renotify{rounds_due}"
        plans: list[PlannedNotification] = []
        held: list[str] = []
        reason = (
            f"policy {policy.name}: re-notify round {rounds_due}: "
            f"no acknowledgement {rounds_due * policy.renotify_every}s after the alert "
            f"(renotify_every {policy.renotify_every}s; reminders back off per person)"
        )
        for contact in current.told:
            for channel in current.channels(contact.id, kind):
                sent = current.sent.get((contact.id, channel), ())
                allowed = limits.next_allowed(channel, sent, policy.every)
                if allowed is None or at >= allowed:
                    plans.append(
                        _plan(
                            contact,
                            channel,
                            command.messages,
                            reason,
                            name,
                            f"reminder:{rounds_due}",
                            f"REMINDER {len(sent)}: " if sent else "",
                        )
                    )
                else:
                    held.append(f"{contact.name} {channel.value} until {_when(allowed)}")
        if held:
            reason += f"; held back by rate limits: {', '.join(held)}"
        step = Step(
            step=name,
            reason=reason,
            notify=tuple(plans),
            tier=current.tier,
            round=rounds_due,
            told=current.told,
            next_due_at=None,
            at=at,
        )
        current = evolve(current, step)
        steps.append(step)
    tiers = _tiers(current, command.school, command.messages, now, kind)
    steps.extend(tiers)
    current = reduce(evolve, tiers, current)
    if steps:
        steps[-1] = replace(steps[-1], next_due_at=next_due(current))
    return steps


def _tiers(
    state: EscalationState,
    school: dict[str, Any],
    messages: Messages,
    now: datetime,
    kind: AlertKind,
) -> list[Step]:
    """The tiers due now: on time (after each `ack_within`), or at once when nobody the
    current tier added can be reached. Each new contact's first word is never held back."""
    assert state.policy is not None
    assert state.raised_at is not None
    policy, raised_at = state.policy, state.raised_at
    steps: list[Step] = []
    current = state
    while current.tier < len(policy.tiers):
        on_time = raised_at + timedelta(seconds=policy.ack_within * current.tier)
        stranded = not any(current.reachable(c) for c in current.tier_contacts)
        if now < on_time and not stranded:
            break
        tier = current.tier + 1
        roles = policy.tiers[tier - 1]
        told = {t.id for t in current.told}
        added = tuple(c for c in contacts_in(school, roles) if c.id not in told)
        if now >= on_time:
            why = (
                f"no acknowledgement within {policy.ack_within * (tier - 1)}s "
                f"(ack_within {policy.ack_within}s per tier)"
            )
        else:
            why = f"nobody tier {tier - 1} added can be reached (refused or none): not waiting"
        reason = f"policy {policy.name}: tier {tier} ({', '.join(roles)}) added: {why}"
        name = f"tier{tier}"
        step = Step(
            step=name,
            reason=reason,
            notify=tuple(
                _plan(c, ch, messages, reason, name, f"first:{name}", "ESCALATED: ")
                for c in added
                for ch in current.channels(c.id, kind)
            ),
            tier=tier,
            round=current.round,
            told=current.told + added,
            next_due_at=None,
            at=min(now, on_time),
        )
        current = evolve(current, step)
        steps.append(step)
    return steps


def _refused(
    state: EscalationState, command: Refused, now: datetime, kind: AlertKind
) -> list[Step]:
    """Record the refusal; try the contact's other channel if it was never tried; and when the
    current tier can no longer reach anyone, tell the next tier now."""
    refusal = command.refusal
    key = (refusal.contact, refusal.channel)
    if not state.started or state.stopped or key in state.refused:
        return []
    contact = next((c for c in state.told if c.id == refusal.contact), None)
    who = contact.name if contact else refusal.contact
    reason = f"{who} {refusal.channel.value}: {refusal.words}; not asked again on this alert"
    plans: tuple[PlannedNotification, ...] = ()
    if contact is not None:
        marked = replace(state, refused={**state.refused, key: refusal})
        untried = tuple(
            c for c in marked.channels(contact.id, kind) if (contact.id, c) not in marked.sent
        )
        if untried:
            reason += f"; {', '.join(c.value for c in untried)} tried instead"
        plans = tuple(
            _plan(
                contact, ch, command.messages, reason, "refused", f"fallback:{command.notification}"
            )
            for ch in untried
        )
    step = Step(
        step="refused",
        reason=reason,
        notify=plans,
        tier=state.tier,
        round=state.round,
        told=state.told,
        next_due_at=None,
        at=now,
        refused=(refusal,),
    )
    steps = [step]
    current = evolve(state, step)
    if current.policy is not None and current.raised_at is not None:
        tiers = _tiers(current, command.school, command.messages, now, kind)
        steps.extend(tiers)
        current = reduce(evolve, tiers, current)
    steps[-1] = replace(steps[-1], next_due_at=next_due(current))
    return steps


def _stop(state: EscalationState, command: Stop) -> list[Step]:
    if state.stopped:
        return []
    told = state.told
    if not state.started and command.school is not None and command.kind is not None:
        policy = policy_for(command.kind, command.school.get("policy", {}))
        if policy is not None and policy.tiers:
            told = contacts_in(command.school, policy.tiers[0])
    tell = tuple(
        c
        for c in told
        if command.taken_by != c.name
        and c.id != command.taker
        and (c.id, Channel.SMS) not in state.refused
    )
    reason = f"acknowledged by {command.taken_by}: everyone told is told who took it"
    plans = tuple(
        PlannedNotification(
            contact=c.id,
            contact_name=c.name,
            to=c.phone,
            channel=Channel.SMS,
            body=command.message,
            reason=reason,
            step="taken",
            purpose="taken",
        )
        for c in tell
    )
    return [
        Step(
            step="taken",
            reason=reason,
            notify=plans,
            tier=state.tier,
            round=state.round,
            told=told,
            next_due_at=None,
            taken_by=command.taken_by,
        )
    ]


def _nominal(state: EscalationState, step: Step, policy: Policy | None) -> datetime | None:
    """When a step recorded before steps carried their time was due (by its name)."""
    if step.at is not None or state.raised_at is None or policy is None:
        return step.at or state.raised_at
    name = step.step
    if name.startswith("renotify") and name[8:].isdigit():
        return state.raised_at + policy.every * int(name[8:])
    if name.startswith("tier") and name[4:].isdigit():
        return state.raised_at + timedelta(seconds=policy.ack_within * (int(name[4:]) - 1))
    return state.raised_at


def evolve(state: EscalationState, step: Step) -> EscalationState:
    policy = step.policy or state.policy
    stopped = state.stopped or step.taken_by is not None
    at = _nominal(state, step, policy)
    sent = dict(state.sent)
    requested = list(step.requested())
    if not state.started and step.policy is not None:
        # The start step: tier 1 was texted with the alert itself.
        requested = [(c.id, Channel.SMS) for c in step.told] + requested
    if at is not None and step.taken_by is None:
        for key in requested:
            sent[key] = (*sent.get(key, ()), at)
    refused = dict(state.refused)
    refused.update({(r.contact, r.channel): r for r in step.refused})
    before = {c.id for c in state.told}
    tier_contacts = (
        tuple(c.id for c in step.told if c.id not in before)
        if step.tier > state.tier
        else state.tier_contacts
    )
    return EscalationState(
        started=True,
        stopped=stopped,
        policy=policy,
        raised_at=state.raised_at,
        tier=step.tier,
        round=step.round,
        told=step.told,
        next_due_at=None if stopped else step.next_due_at,
        sent=sent,
        refused=refused,
        tier_contacts=tier_contacts,
    )


def step_data(step: Step) -> dict[str, Any]:
    """A step as recorded in `Alert.Escalated` (plain values the event store can keep)."""
    return {
        "step": step.step,
        "reason": step.reason,
        "tier": step.tier,
        "round": step.round,
        "told": [c.as_data() for c in step.told],
        "notified": [{"contact": p.contact, "channel": p.channel.value} for p in step.notify],
        "next_due_at": step.next_due_at,
        "policy": step.policy.as_data() if step.policy else None,
        "taken_by": step.taken_by,
        "at": step.at,
        "refused": [r.as_data() for r in step.refused],
    }


def step_from_data(data: dict[str, Any]) -> Step:
    """A recorded step; steps recorded before `at` and `refused` existed read as before."""
    return Step(
        step=data["step"],
        reason=data["reason"],
        notify=(),
        tier=int(data["tier"]),
        round=int(data["round"]),
        told=tuple(Contact(**c) for c in data["told"]),
        next_due_at=data.get("next_due_at"),
        policy=Policy.from_data(data["policy"]) if data.get("policy") else None,
        taken_by=data.get("taken_by"),
        at=data.get("at"),
        sent=tuple((n["contact"], Channel(n["channel"])) for n in data.get("notified") or ()),
        refused=tuple(Refusal.from_data(r) for r in data.get("refused") or ()),
    )
