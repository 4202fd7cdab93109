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

This module holds the decisions; the values they are made over (state, steps, commands)
and `evolve` are in service/domain/alerts/ladder_state.py, their names re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from service.domain.alerts.alert import AlertKind
from service.domain.alerts.escalation import (
    OWN_LADDER,
    POLICY_KEYS,
    Contact,
    PlannedNotification,
    contacts_in,
    first_plan,
    policy_for,
)
from service.domain.alerts.ladder_state import RED_KINDS as RED_KINDS
from service.domain.alerts.ladder_state import Command as Command
from service.domain.alerts.ladder_state import EscalationState as EscalationState
from service.domain.alerts.ladder_state import Messages as Messages
from service.domain.alerts.ladder_state import Refusal as Refusal
from service.domain.alerts.ladder_state import Refused as Refused
from service.domain.alerts.ladder_state import Start as Start
from service.domain.alerts.ladder_state import Step as Step
from service.domain.alerts.ladder_state import Stop as Stop
from service.domain.alerts.ladder_state import Tick as Tick
from service.domain.alerts.ladder_state import channels_for as channels_for
from service.domain.alerts.ladder_state import evolve as evolve
from service.domain.alerts.ladder_state import next_due as next_due
from service.domain.alerts.ladder_state import step_data as step_data
from service.domain.alerts.ladder_state import step_from_data as step_from_data
from service.domain.alerts.limits import LIMITS, Limits
from service.domain.alerts.notifications import Channel


def _plan(
    contact: Contact,
    channel: Channel,
    messages: Messages,
    reason: str,
    step: str,
    purpose: str,
    prefix: str = "",
    said: dict[str, Any] | None = None,
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
        plan=said,
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
    said = first_plan(policy, at_once=True, called=bool(calls))
    first = Step(
        step="tier1",
        reason=reason,
        notify=tuple(
            _plan(c, ch, command.messages, reason, "tier1", "first:tier1", said=said)
            for c in tier1
            for ch in calls
        ),
        tier=1,
        round=0,
        told=tier1,
        next_due_at=None,
        policy=policy,
        at=command.raised_at,
        plan=said,
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
        said: dict[str, Any] = {
            "policy": policy.name,
            "step": "reminder",
            "round": rounds_due,
            "after_s": rounds_due * policy.renotify_every,
            "every_s": policy.renotify_every,
        }
        held_until: list[dict[str, Any]] = []
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
                            dict(said),  # as its reason: without who was held back
                        )
                    )
                else:
                    held.append(f"{contact.name} {channel.value} until {_when(allowed)}")
                    held_until.append(
                        {"who": contact.name, "channel": channel.value, "until": allowed}
                    )
        if held:
            reason += f"; held back by rate limits: {', '.join(held)}"
            said["held"] = held_until
        step = Step(
            step=name,
            reason=reason,
            notify=tuple(plans),
            tier=current.tier,
            round=rounds_due,
            told=current.told,
            next_due_at=None,
            at=at,
            plan=said,
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
        said = {"policy": policy.name, "step": "tier", "tier": tier, "roles": list(roles)}
        if now >= on_time:
            said |= {"after_s": policy.ack_within * (tier - 1), "ack_within_s": policy.ack_within}
        else:
            said["stranded"] = True
        name = f"tier{tier}"
        step = Step(
            step=name,
            reason=reason,
            notify=tuple(
                _plan(c, ch, messages, reason, name, f"first:{name}", "ESCALATED: ", said)
                for c in added
                for ch in current.channels(c.id, kind)
            ),
            tier=tier,
            round=current.round,
            told=current.told + added,
            next_due_at=None,
            at=min(now, on_time),
            plan=said,
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
