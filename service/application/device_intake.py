"""Recording device messages in groups: one transaction for many messages.

The gateway's synchronous core. Group commit is the lever (FIELD-NOTES: ~20-40x
the events per second of one save per message). A message is a duplicate when an event
with its id (the device's and the message's) is stored already. A plain reading learns
that from its own insert, which leaves a repeat out rather than refusing the group
(`UnitOfWork.save(repeatable=...)`: one round trip, under the store's lock); an alarm or a
text, which must know before it builds (a repeat names the alert it raised), asks first
with one query, and if another writer wins a race anyway, the batch falls back to one
save per message. Which message under a used id is a repeat, and what it is answered
with, is device_repeats.py's.

What each kind does (INTERFACES.md section 2):
- sos, fall: the message, and either a new red alert with its tier-1 notification
  requests, or (the device's alert of that kind is still open) a count on that alert;
- message: the text with the safe words masked (the staff member's and their current
  visit's: service.domain.alerts.duress, as for an SMS); what it raises is what the same
  text by SMS raises (service.domain.visits.text_alarms): the safe word a silent duress
  alert, HELP an SOS (a new alert, as each HELP by SMS is), answered `alert_received`;
- heartbeat, checkin, battery, location: the message only, recorded as its one event
  without an aggregate around it (`received`: a reading is a fact; the views keep device
  health).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from service.application import visits as visit_commands
from service.application.alarm_reads import GroupReads, alarm_streams
from service.application.alerts import device_cause, raise_alert
from service.application.device_groups import Committed, Facts, telling
from service.application.device_outcomes import RECORDED
from service.application.device_outcomes import Intaken as Intaken
from service.application.device_outcomes import Outcome as Outcome
from service.application.device_repeats import ByInt, InGroup, duplicate, id_reused, repeat
from service.application.directory_lookup import DeviceInfo
from service.application.open_alarms import JoinedAlarm, OpenAlarms, point
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind
from service.domain.alerts.duress import detect_duress
from service.domain.alerts.notifications import Notification
from service.domain.devices.health import (
    PRESSED_AGAIN_EVERY,
    pressed_again_due,
)
from service.domain.devices.messages import (
    ALARM_KINDS,
    FACT_KINDS,
    DeviceMessage,
    DeviceReading,
    clock_skew_seconds,
    received,
    without_reused_id,
)
from service.domain.visits.commands import parse_visitor_text
from service.domain.visits.text_alarms import asks_for_help, text_alarm


@dataclass
class _Batch:
    """The aggregates to save, and alerts touched in this batch (a second press in the
    same batch must join the alert the first one raised, before either is saved)."""

    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    alerts: dict[UUID, Alert] = field(default_factory=dict)
    facts: list[Aggregate.Created] = field(default_factory=list)
    """Plain readings, recorded as their one event (no aggregate around them)."""
    vouched: set[int] = field(default_factory=set)
    """`id()` of the facts handed on as objects: made only of what JSON gives back as it was."""
    repeatable: ByInt = field(default_factory=ByInt)
    """Ids of the facts that carry a message id: the insert leaves one out if stored already."""
    reads: GroupReads | None = None
    """An alarm group's reads, made in one query before it is built (alarm_reads.py)."""

    def __bool__(self) -> bool:
        return bool(self.aggregates or self.facts)

    def saved(self) -> list[Any]:
        return [*self.aggregates.values(), *([Facts(self.facts)] if self.facts else [])]

    def add(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.aggregates[aggregate.id] = aggregate


class DeviceIntake:
    """Thread-safe: one batch at a time (the alarm lane and the bulk lane share it)."""

    def __init__(
        self, uow: UnitOfWork, *, pressed_again_every: timedelta = PRESSED_AGAIN_EVERY
    ) -> None:
        self.uow = uow
        self.pressed_again_every = pressed_again_every
        self.open_alarms = OpenAlarms()
        """Which open alert each device's presses join (open_alarms.py)."""
        self._lock = threading.Lock()
        self.on_committed: list[Committed] = []
        """Followers told of every group this intake commits (the live views, the Merkle
        log), so they need not read it back; called on the committing thread."""

    def record(self, readings: Sequence[DeviceReading]) -> list[Intaken]:
        """Record a group of readings in one transaction; one result per reading, in order.

        Batches without alarms run concurrently with others (the gateway's lanes);
        batches with alarms take turns, since they share what is open per device.
        """
        if any(r.kind in ALARM_KINDS for r in readings):
            with self._lock:
                return self._record(readings, alarms=True)
        return self._record(readings)

    def _record(self, readings: Sequence[DeviceReading], *, alarms: bool = False) -> list[Intaken]:
        now = self.uow.clock.now()
        results: list[Intaken | None] = [None] * len(readings)
        infos: dict[int, DeviceInfo] = {}
        # Message ids are keyed by their `.int` here: a UUID's hash is a Python call (~0.2 µs),
        # and a heartbeat was hashed ~9 times on its way through the group.
        first_of: dict[int, int] = {}
        message_ids: dict[int, UUID] = {}
        mixed: set[int] = set()  # ids the group holds under two kinds (a reused id)
        devices = self.uow.directory.devices_of([r.device_id for r in readings])
        for index, (reading, info) in enumerate(zip(readings, devices, strict=True)):
            if info is None:
                results[index] = Intaken(Outcome.UNKNOWN_DEVICE)
                continue
            infos[index] = info
            if reading.msg_id is not None:
                message_id = ids.device_message_id(reading.device_id, reading.msg_id)
                message_ids[index] = message_id
                first = first_of.setdefault(message_id.int, index)
                if first != index and readings[first].kind != reading.kind:
                    mixed.add(message_id.int)
        # Plain readings are checked by their insert (`_save`); the rest ask first, each by
        # its own id, and so does an id the group holds under two kinds (a reused id): which
        # of them repeats what is stored decides which one is the new message.
        checked = {
            m
            for i, m in message_ids.items()
            if readings[i].kind not in FACT_KINDS or m.int in mixed
        }
        batch = _Batch()
        streams = (
            alarm_streams(
                ((readings[i], info) for i, info in infos.items()), self.open_alarms.remembered
            )
            if alarms
            else None
        )
        if streams:  # an alarm: its duplicates and what its build reads, in one query
            batch.reads = GroupReads.fetch(self.uow, checked | streams)
            stored = batch.reads.stored(checked)
        else:
            stored = self.uow.stored(checked)
        fresh: list[int] = []
        repeats: list[tuple[int, int]] = []
        in_group = InGroup(readings)
        for index, info in infos.items():
            reading = readings[index]
            known = message_ids.get(index)
            reused = False
            if known is not None:
                key = known.int
                first = first_of[key]
                same = in_group.repeated(index, key)
                if same is not None:
                    repeats.append((index, same))
                    continue
                in_store = bool(stored) and known in stored
                if in_store:
                    found = repeat(self.uow, reading, known)
                    if found is not None:
                        results[index] = found
                        continue
                # Another message's id (stored, or taken earlier in this group): a new message.
                reused = in_store or first != index
                if reused:  # built without the id: nothing after this may look it up
                    reading, known = without_reused_id(reading), None
                    del message_ids[index]
            result = self._build(reading, info, now, batch, known)
            results[index] = id_reused(result) if reused else result
            fresh.append(index)
        if batch:
            try:
                already = self._save(batch)
            except IntegrityError:
                # Another writer got there first (a second gateway, a racing repeat):
                # record one by one, so only the colliding message is affected.
                # (Often an open alert that the dispatcher updated meanwhile: the cache of
                # open alerts stays, since each attempt loads the alert afresh.)
                for index in fresh:
                    results[index] = self._record_alone(readings[index], infos[index])
            else:
                for index in fresh if already else ():
                    known = message_ids.get(index)
                    if known in already:
                        results[index] = duplicate(
                            self.uow, readings[index], known, self._record_alone
                        )
        for index, first in repeats:
            original = results[first]
            assert original is not None
            results[index] = Intaken(
                Outcome.DUPLICATE,
                original.message_id,
                original.alert_id,
                original.alert_kind,
                original.joined_open_alert,
                asked_for_help=original.asked_for_help,
            )
        return [r if r is not None else Intaken(Outcome.UNKNOWN_DEVICE) for r in results]

    def _record_alone(self, reading: DeviceReading, info: DeviceInfo, tries: int = 3) -> Intaken:
        for remaining in range(tries - 1, -1, -1):
            batch = _Batch()
            result = self._build(reading, info, self.uow.clock.now(), batch)
            try:
                for message_id in self._save(batch):  # a plain reading stored already
                    return duplicate(self.uow, reading, message_id, self._record_alone)
                return result
            except IntegrityError:
                if reading.msg_id is not None:
                    message_id = ids.device_message_id(reading.device_id, reading.msg_id)
                    if self.uow.exists(message_id):
                        return duplicate(self.uow, reading, message_id, self._record_alone)
                if not remaining:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _save(self, batch: _Batch) -> set[UUID]:
        """Save the batch in one transaction; the ids of its facts that were stored already
        (left out by the insert, so neither recorded again nor told to the followers)."""
        recordings = self.uow.save(
            *batch.saved(),
            committed=telling(self.on_committed, batch.vouched),
            repeatable=batch.repeatable,
        )
        if not batch.repeatable or (not batch.aggregates and len(recordings) == len(batch.facts)):
            return set()  # every fact recorded (a group of readings alone: one event each)
        return batch.repeatable.left_out(r.notification.originator_id for r in recordings)

    # -- building what one reading records ---------------------------------------

    def _build(
        self,
        reading: DeviceReading,
        info: DeviceInfo,
        now: datetime,
        batch: _Batch,
        message_id: UUID | None = None,
    ) -> Intaken:
        """What one reading records, added to the batch. `message_id`: its id, when the
        reading carried an `id` (computed already for the duplicate check)."""
        fields = _fields(reading)
        flags: list[str] = []
        if reading.rejected_fields:
            fields["rejected_fields"] = dict(reading.rejected_fields)
            flags.append("rejected_fields")
        skew = clock_skew_seconds(reading.device_ts, now)
        if skew is not None:
            fields["clock_skew_seconds"] = skew
            flags.append("clock_skew")
        if reading.kind in FACT_KINDS:
            fact = received(
                message_id or DeviceMessage.create_id(reading.device_id, reading.msg_id),
                device=reading.device_id,
                kind=reading.kind,
                msg_id=reading.msg_id,
                device_ts=reading.device_ts,
                fields=fields,
                school=info.school,
                staff=info.staff,
                timestamp=now,
            )
            batch.facts.append(fact)
            if reading.msg_id is not None:
                batch.repeatable.add(fact.originator_id)
            if not reading.extra:  # another system's words may hold what JSON changes
                batch.vouched.add(id(fact))
            if not flags:  # the usual reading (a skew comes with its flag): positional, cheaper
                return Intaken(RECORDED, fact.originator_id)
            return Intaken(
                Outcome.RECORDED, fact.originator_id, flags=tuple(flags), clock_skew_seconds=skew
            )
        duress = help_asked = False
        text_kind: AlertKind | None = None
        if reading.kind == "message" and reading.text is not None:
            # The one duress rule (service.domain.alerts.duress), as for a text by SMS: the staff
            # member's word and their current visit's. Only texts pay for the lookups.
            screened = detect_duress(
                reading.text, visit_commands.safe_word_hashes(self.uow, info.staff)
            )
            fields["text"], duress = screened.text, screened.duress
            command = parse_visitor_text(screened.text)
            text_kind, help_asked = text_alarm(command, duress=duress), asks_for_help(command)
        alarm_kind = AlertKind(reading.kind) if reading.kind in ALARM_KINDS else None
        joined: JoinedAlarm | None = None
        if alarm_kind is not None:
            joined = self.open_alarms.find(
                reading.device_id, reading.kind, batch.alerts, batch.reads or self.uow
            )
            if joined is not None:
                fields["alert_id"] = str(joined.alert_id)
        message = DeviceMessage(
            device=reading.device_id,
            kind=reading.kind,
            message_id=reading.msg_id,
            device_ts=reading.device_ts,
            fields=fields,
            school=info.school,
            staff=info.staff,
            timestamp=now,
        )
        created: list[Aggregate] = [message]
        alert_id: UUID | None = None
        alert_kind: AlertKind | None = None
        if joined is not None and alarm_kind is not None:
            alert_id, alert_kind = joined.alert_id, alarm_kind
            joined.pending += 1
            if pressed_again_due(
                joined.pending, joined.last_recorded, now, self.pressed_again_every
            ):
                open_alert = batch.alerts[joined.alert_id]
                open_alert.record_pressed_again(count=joined.pending, timestamp=now)
                joined.pending, joined.last_recorded = 0, now
                created.append(open_alert)
        elif alarm_kind is not None or text_kind is not None:
            alert_kind = alarm_kind or text_kind
            assert alert_kind is not None
            raised = raise_alert(
                batch.reads.as_uow() if batch.reads is not None else self.uow,
                key=ids.alert_key_for_message(message.id),
                kind=alert_kind,
                school=info.school,
                staff=info.staff,
                device=message.device,
                cause=device_cause(message),
                now=now,
                silent=duress,
                visitor=info.staff_name,
            )
            new_alert = raised[0]
            assert isinstance(new_alert, Alert)
            alert_id = new_alert.id
            created.extend(raised)
            batch.alerts[new_alert.id] = new_alert
            if alarm_kind is not None:
                self.open_alarms.raised(reading.device_id, reading.kind, new_alert.id)
                created.append(
                    point(
                        reading.device_id, reading.kind, new_alert.id, now, batch.reads or self.uow
                    )
                )
        if duress:
            flags.append("duress")
        batch.add(*created)
        return Intaken(
            Outcome.RECORDED,
            message.id,
            alert_id,
            alert_kind,
            joined_open_alert=joined is not None,
            flags=tuple(flags),
            requested=tuple(a for a in created if isinstance(a, Notification)),
            clock_skew_seconds=skew,
            asked_for_help=help_asked,
        )


def _fields(reading: DeviceReading) -> dict[str, Any]:
    """The reading's checked fields over another system's own words (source, ids, address),
    which never overwrite them: `{**extra, **checked}`, key order included (it is stored),
    without building the dicts in between (once per heartbeat)."""
    fields: dict[str, Any] = dict(reading.extra) if reading.extra else {}
    if reading.lat is not None:
        fields["lat"] = reading.lat
    if reading.lon is not None:
        fields["lon"] = reading.lon
    if reading.acc is not None:
        fields["acc"] = reading.acc
    if reading.battery is not None:
        fields["battery"] = reading.battery
    if reading.seq is not None:
        fields["seq"] = reading.seq
    return fields
