"""The escalation ladder's values: its state, the steps it records, the commands it takes.

`evolve(state, step)` folds an alert's recorded steps into an `EscalationState`; the
decisions themselves (`decide`) are in service/domain/alerts/ladder.py. `step_data` and
`step_from_data` are the steps as `Alert.Escalated` records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import Contact, PlannedNotification, Policy
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
    plan: dict[str, Any] | None = None
    """The step as values beside its reason (`policy`, `step`: first, reminder or tier, and
    the numbers the reason states): the record words a step from these
    (service/records/narrative.py); a step recorded before them, from its reason."""

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
        **({"plan": step.plan} if step.plan is not None else {}),
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
        plan=data.get("plan"),
    )
