"""The escalation ladder over time: decide(state, command, now) -> steps; evolve(state, step).

Plain functions over plain values (the shape of eventsourcing's examples/aggregate6):
the application folds an alert's recorded steps into an `EscalationState`, asks
`decide` what to do now, and records each `Step` (as `Alert.Escalated`) with the
notifications it requests. Nothing here sends anything or reads a clock.

Until a person acknowledges, the ladder re-notifies everyone told so far every
`renotify_every` and adds the next tier after each `ack_within`; red alerts are
also called (voice), amber ones only texted. Tier 1's texts are requested with
the alert itself (one transaction); the "start" step, due at once, adds the
calls and snapshots the policy, so a replay explains every later message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from service.domain.alerts import AlertKind
from service.domain.escalation import DEFAULT_TIERS, PlannedNotification
from service.domain.notifications import Channel

POLICY_KEYS: dict[AlertKind, str] = {AlertKind.NOTIFICATION_FAILED: "notification_failure"}
"""The directory names one policy differently from the alert kind."""
OWN_LADDER: dict[AlertKind, str] = {
    AlertKind.OVERDUE: (
        "the visit's overdue ladder escalates it (visitor, then reception rings home, "
        "then senior leaders); the overdue policy names no tiers"
    ),
}
"""Kinds that climb the tiers only when their own policy names tiers: otherwise a
ladder of their own (the policies' overdue steps) is their escalation, and a second
ladder would tell the same people twice."""
DEFAULT_ACK_WITHIN = 60
DEFAULT_RENOTIFY_EVERY = 60
RED_KINDS = frozenset(
    {
        AlertKind.SOS,
        AlertKind.FALL,
        AlertKind.DURESS,
        AlertKind.OVERDUE,
        AlertKind.NOTIFICATION_FAILED,
    }
)


@dataclass(frozen=True)
class Policy:
    """The escalation policy an alert follows, as recorded when its escalation starts."""

    name: str
    ack_within: int
    renotify_every: int
    tiers: tuple[tuple[str, ...], ...]

    def as_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ack_within": self.ack_within,
            "renotify_every": self.renotify_every,
            "tiers": [list(t) for t in self.tiers],
        }

    @staticmethod
    def from_data(data: dict[str, Any]) -> Policy:
        return Policy(
            name=str(data["name"]),
            ack_within=int(data["ack_within"]),
            renotify_every=int(data["renotify_every"]),
            tiers=tuple(tuple(t) for t in data["tiers"]),
        )


def policy_for(kind: AlertKind, school_policy: dict[str, Any]) -> Policy | None:
    """The kind's own policy, else the school's SOS policy, else the defaults.

    A notification failure escalates to people only when the school names a
    `notification_failure` policy; otherwise it stays on the console (and a failed
    message about a failed message can never start a loop).
    """
    own = POLICY_KEYS.get(kind, kind.value)
    entry = school_policy.get(own)
    if kind in OWN_LADDER and not (isinstance(entry, dict) and entry.get("tiers")):
        return None
    if not isinstance(entry, dict) or not entry:
        if kind is AlertKind.NOTIFICATION_FAILED:
            return None
        entry, own = school_policy.get("sos"), "sos"
        if not isinstance(entry, dict):
            entry, own = {}, "default"
    return Policy(
        name=own,
        ack_within=max(1, int(entry.get("ack_within", DEFAULT_ACK_WITHIN))),
        renotify_every=max(1, int(entry.get("renotify_every", DEFAULT_RENOTIFY_EVERY))),
        tiers=tuple(tuple(t) for t in (entry.get("tiers") or DEFAULT_TIERS)),
    )


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    role: str
    phone: str

    def as_data(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role, "phone": self.phone}


def contacts_in(school: dict[str, Any], roles: Sequence[str]) -> tuple[Contact, ...]:
    """The school's contacts with one of `roles` and a phone, in directory order."""
    return tuple(
        Contact(id=c["id"], name=c["name"], role=c["role"], phone=c["phone"])
        for c in school.get("contacts", [])
        if c.get("role") in roles and c.get("phone")
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
class Stop:
    taken_by: str
    taker: str | None
    """The contact id of whoever took it, if a contact: they are not told their own news."""
    message: str
    school: dict[str, Any] | None = None
    """Taken before the ladder started: tier 1 was already texted with the alert, so tier 1
    (of this school's policy for `kind`) is who was told."""
    kind: AlertKind | None = None


Command = Start | Tick | Stop


def next_due(state: EscalationState) -> datetime | None:
    """When the ladder next has something to do: the next tier or the next round."""
    if state.stopped or state.policy is None or state.raised_at is None:
        return None
    policy = state.policy
    candidates = [state.raised_at + timedelta(seconds=policy.renotify_every * (state.round + 1))]
    if state.tier < len(policy.tiers):
        candidates.append(state.raised_at + timedelta(seconds=policy.ack_within * state.tier))
    return min(candidates)


def _plans(
    contacts: Sequence[Contact],
    channels: Sequence[Channel],
    messages: Messages,
    reason: str,
    step: str,
    prefix: str = "",
) -> tuple[PlannedNotification, ...]:
    return tuple(
        PlannedNotification(
            contact=c.id,
            contact_name=c.name,
            to=c.phone,
            channel=channel,
            body=prefix + (messages.say if channel is Channel.VOICE else messages.sms),
            reason=reason,
            step=step,
        )
        for c in contacts
        for channel in channels
    )


def channels_for(kind: AlertKind) -> tuple[Channel, ...]:
    """Red alerts are texted and called; amber ones only texted."""
    return (Channel.SMS, Channel.VOICE) if kind in RED_KINDS else (Channel.SMS,)


def decide(state: EscalationState, command: Command, now: datetime, kind: AlertKind) -> list[Step]:
    """What the ladder does now. Empty when there is nothing to do (so a repeat is harmless)."""
    if isinstance(command, Start):
        return _start(state, command, kind)
    if isinstance(command, Stop):
        return _stop(state, command)
    return _tick(state, command, now, kind)


def _start(state: EscalationState, command: Start, kind: AlertKind) -> list[Step]:
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
    draft = EscalationState(
        started=True, policy=policy, raised_at=command.raised_at, tier=1, told=tier1
    )
    return [
        Step(
            step="tier1",
            reason=reason,
            notify=_plans(tier1, calls, command.messages, reason, "tier1"),
            tier=1,
            round=0,
            told=tier1,
            next_due_at=next_due(draft),
            policy=policy,
        )
    ]


def _tick(state: EscalationState, command: Tick, now: datetime, kind: AlertKind) -> list[Step]:
    if not state.started or state.stopped or state.policy is None or state.raised_at is None:
        return []
    policy, elapsed = state.policy, (now - state.raised_at).total_seconds()
    steps: list[Step] = []
    channels = channels_for(kind)
    current = state
    # A reminder goes to everyone told before this moment; a new tier gets its first word.
    rounds_due = int(elapsed // policy.renotify_every)
    if rounds_due > current.round and current.told:
        reason = (
            f"policy {policy.name}: re-notify round {rounds_due}: "
            f"no acknowledgement {rounds_due * policy.renotify_every}s after the alert "
            f"(renotify_every {policy.renotify_every}s)"
        )
        name = f"renotify{rounds_due}"
        step = Step(
            step=name,
            reason=reason,
            notify=_plans(
                current.told, channels, command.messages, reason, name, f"REMINDER {rounds_due}: "
            ),
            tier=current.tier,
            round=rounds_due,
            told=current.told,
            next_due_at=None,
        )
        current = evolve(current, step)
        steps.append(step)
    while current.tier < len(policy.tiers) and elapsed >= policy.ack_within * current.tier:
        tier = current.tier + 1
        roles = policy.tiers[tier - 1]
        added = tuple(
            c
            for c in contacts_in(command.school, roles)
            if c.id not in {t.id for t in current.told}
        )
        reason = (
            f"policy {policy.name}: tier {tier} ({', '.join(roles)}) added: "
            f"no acknowledgement within {policy.ack_within * (tier - 1)}s "
            f"(ack_within {policy.ack_within}s per tier)"
        )
        name = f"tier{tier}"
        step = Step(
            step=name,
            reason=reason,
            notify=_plans(added, channels, command.messages, reason, name, "ESCALATED: "),
            tier=tier,
            round=current.round,
            told=current.told + added,
            next_due_at=None,
        )
        current = evolve(current, step)
        steps.append(step)
    if steps:
        last = steps[-1]
        steps[-1] = replace(last, next_due_at=next_due(current))
    return steps


def _stop(state: EscalationState, command: Stop) -> list[Step]:
    if state.stopped:
        return []
    told = state.told
    if not state.started and command.school is not None and command.kind is not None:
        policy = policy_for(command.kind, command.school.get("policy", {}))
        if policy is not None and policy.tiers:
            told = contacts_in(command.school, policy.tiers[0])
    tell = tuple(c for c in told if command.taken_by != c.name and c.id != command.taker)
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


def evolve(state: EscalationState, step: Step) -> EscalationState:
    policy = step.policy or state.policy
    stopped = state.stopped or step.taken_by is not None
    raised_at = state.raised_at
    return EscalationState(
        started=True,
        stopped=stopped,
        policy=policy,
        raised_at=raised_at,
        tier=step.tier,
        round=step.round,
        told=step.told,
        next_due_at=None if stopped else step.next_due_at,
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
    }


def step_from_data(data: dict[str, Any]) -> Step:
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
    )
