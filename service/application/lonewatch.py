"""The Lonewatch application: load, call the domain, save — one atomic save per command.

Synchronous by design (the event store is); the async adapters call it from
worker threads. Every "now" comes from the injected clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, Mapper, Recording

from service.adapters import sealing as integrity
from service.adapters import secrets
from service.adapters.stored_topics import register_moved_topics
from service.application import escalation
from service.application import visits as visit_commands
from service.clock import Clock
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind, Outcome
from service.domain.alerts.duress import detect_duress
from service.domain.alerts.escalation import (
    alert_message,
    first_notifications,
    request_notification,
)
from service.domain.alerts.notifications import Notification
from service.domain.devices.location import describe as describe_location
from service.domain.devices.location import location_of
from service.domain.devices.messages import DeviceMessage
from service.domain.errors import NotFound
from service.domain.people.access import Principal
from service.domain.people.directory import (
    DEVICE_SOURCES_KEY,
    ApiToken,
    Device,
    DeviceSources,
    DeviceSpec,
    Directory,
    DirectoryEntry,
    PhoneNumber,
    School,
    Staff,
    User,
    device_sources_data,
)
from service.domain.people.texts import (
    HELP_REPLY,
    STAFF_REPLY,
    InboundSms,
    StaffCommand,
    parse_contact_text,
    parse_staff_text,
)

A = TypeVar("A", bound=Aggregate)


class Contended(IntegrityError):
    """Another writer kept changing the same record; nothing was saved.

    Still an IntegrityError, so background work (the dispatcher) keeps retrying it;
    the HTTP layer answers 409 and asks the person to try again."""


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class DeviceInfo:
    key: str
    school: str
    school_name: str
    timezone: str
    staff: str | None
    staff_name: str | None


class Lonewatch(Application[UUID]):
    name = "lonewatch"

    def __init__(
        self,
        env: dict[str, str],
        clock: Clock,
        *,
        alert_finder: Callable[[Sequence[str]], list[dict[str, Any]]] | None = None,
        before_insert: Callable[[], object] | None = None,
    ) -> None:
        """`alert_finder`: open alerts of some schools, from the views (how a texted ACK
        finds its alert; without it ACK by text is refused). `before_insert`: called on the
        saving thread just before each insert (`SealedEventStore`)."""
        self._before_insert = before_insert  # read by construct_event_store, during super()
        super().__init__(env)
        self.clock = clock
        self._devices: dict[str, DeviceInfo] = {}
        self._devices_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self.alert_finder = alert_finder

    # -- plumbing -------------------------------------------------------

    def construct_mapper(self) -> Mapper[UUID]:
        register_moved_topics()  # stores written before issue 11's move name old modules
        return integrity.SealingMapper.wrapping(super().construct_mapper())

    def construct_event_store(self) -> EventStore[UUID]:
        """Every stored event is sealed and chained to the one before it (service.adapters.sealing)."""
        return integrity.SealedEventStore(
            mapper=self.mapper, recorder=self.recorder, before_insert=self._before_insert
        )

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called (on the saving thread) after every commit: wakes projections at once."""
        self._listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        for listener in self._listeners:
            listener()
        return recordings

    def load(self, aggregate_id: UUID, cls: type[A], what: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def retry_on_conflict(
        self, attempt: Callable[[], Sequence[Aggregate]], tries: int = 10
    ) -> None:
        """Run load-decide-save again when another writer saved the same aggregate first.

        An SOS alert is written by several hands at once (the dispatcher recording each
        message, the ladder, a person taking it), so conflicts come in bursts: back off a
        little, with jitter, and if the aggregate is still contended say so plainly.
        """
        for remaining in range(tries - 1, -1, -1):
            changed = attempt()
            try:
                self.save(*changed)
                return
            except IntegrityError:
                if not remaining:
                    raise Contended(
                        "someone else changed this at the same moment; please try again"
                    ) from None
                time.sleep(random.uniform(0.005, 0.02) * (tries - remaining))

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    # -- directory --------------------------------------------------------

    def import_directory(self, directory: Directory) -> ImportReport:
        """Idempotent: an unchanged entry records nothing, a changed one records `Updated`."""
        now = self.clock.now()
        created = updated = unchanged = 0
        pending: list[Aggregate] = []

        def upsert(cls: type[DirectoryEntry], key: str, data: dict[str, Any]) -> None:
            nonlocal created, updated, unchanged
            aggregate_id = cls.create_id(key)  # type: ignore[attr-defined]
            try:
                existing: DirectoryEntry = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                pending.append(cls(key=key, data=data, timestamp=now))
                created += 1
                return
            if existing.update(data=data, timestamp=now):
                pending.append(existing)
                updated += 1
            else:
                unchanged += 1

        for school in directory.schools:
            upsert(School, school.id, school.as_event_data())
        for person in directory.staff:
            previous = self.load_optional(ids.staff_id(person.id), Staff)
            data = {
                "school": person.school,
                "name": person.name,
                "phone": person.phone,
                "safe_word_hash": _keep_or_hash(
                    person.safe_word,
                    previous.safe_word_hash if previous else None,
                    secrets.hash_safe_word,
                    secrets.verify_safe_word,
                ),
            }
            upsert(Staff, person.id, data)
        for device in directory.devices:
            previous_device = self.load_optional(ids.device_id(device.id), Device)
            data = {
                "school": device.school,
                "staff": device.staff,
                "kind": device.kind,
                "secret_hash": _keep_or_hash(
                    device.secret,
                    previous_device.secret_hash if previous_device else None,
                    secrets.hash_device_secret,
                    secrets.pbkdf2_verify,
                ),
            }
            for source in ("traccar_unique_id", "owntracks"):
                if getattr(device, source):  # absent, not None: old entries stay unchanged
                    data[source] = getattr(device, source)
            upsert(Device, device.id, data | _zone_of(device))
        sources = device_sources_data(directory.devices)
        if any(sources.values()) or self.exists(ids.device_sources_id(DEVICE_SOURCES_KEY)):
            upsert(DeviceSources, DEVICE_SOURCES_KEY, sources)
        phones: dict[str, dict[str, list[Any]]] = {}
        for person in directory.staff:
            if person.phone:
                phones.setdefault(person.phone, {"staff": [], "contacts": []})["staff"].append(
                    person.id
                )
        for school_spec in directory.schools:
            for contact in school_spec.contacts:
                entry = phones.setdefault(contact.phone, {"staff": [], "contacts": []})
                entry["contacts"].append(
                    {
                        "school": school_spec.id,
                        "id": contact.id,
                        "name": contact.name,
                        "role": contact.role,
                    }
                )
        for number, owners in sorted(phones.items()):
            upsert(PhoneNumber, number, owners)
        for spec in directory.users:
            user = self.load_optional(ids.user_id(spec.username), User)
            if user is None:
                pending.append(
                    User(
                        username=spec.username,
                        school=spec.school,
                        role=spec.role.value,
                        timestamp=now,
                    )
                )
                created += 1
            elif user.update(school=spec.school, role=spec.role, timestamp=now):
                pending.append(user)
                updated += 1
            else:
                unchanged += 1
        if pending:
            self.save(*pending)
        with self._devices_lock:
            self._devices.clear()
        return ImportReport(created=created, updated=updated, unchanged=unchanged)

    def load_optional(self, aggregate_id: UUID, cls: type[A]) -> A | None:
        try:
            return self.load(aggregate_id, cls, cls.__name__)
        except NotFound:
            return None

    def device_info(self, device: str) -> DeviceInfo | None:
        """Directory facts about a device, cached: devices send far more often than schools change."""
        with self._devices_lock:
            cached = self._devices.get(device)
        if cached is not None:
            return cached
        entry = self.load_optional(ids.device_id(device), Device)
        if entry is None:
            return None
        school = self.load(ids.school_id(entry.school), School, "school")
        staff = self.load_optional(ids.staff_id(entry.staff), Staff) if entry.staff else None
        info = DeviceInfo(
            key=device,
            school=entry.school,
            school_name=school.name,
            timezone=school.timezone,
            staff=entry.staff,
            staff_name=staff.name if staff else None,
        )
        with self._devices_lock:
            self._devices[device] = info
        return info

    def forget_directory_cache(self) -> None:
        """Called when the directory changed in another process (seen by the projections)."""
        with self._devices_lock:
            self._devices.clear()

    # -- devices ------------------------------------------------------------

    def raise_alert(
        self,
        *,
        key: str,
        kind: AlertKind,
        school: str,
        staff: str | None,
        device: str | None,
        cause: dict[str, Any],
        now: datetime,
        silent: bool = False,
        notify: bool = True,
        visitor: str | None = None,
    ) -> list[Aggregate]:
        """The one way an alarm is raised, whatever raised it (a device, a text, a deadline,
        a failed notification): the alert and, with `notify`, its tier-1 requests, unsaved,
        for the caller to save with whatever caused it, in one transaction.

        `notify=False` for alerts whose first messages come from elsewhere (the visit's own
        overdue ladder) or that are for the console itself (a notification that failed).
        `visitor` saves a store read when the caller already knows the staff member's name."""
        alert = Alert(
            key=key,
            kind=kind.value,
            school=school,
            device=device,
            staff=staff,
            cause=cause,
            silent=silent,
            timestamp=now,
        )
        if not notify:
            return [alert]
        entry = self.load(ids.school_id(school), School, "school")
        if visitor is None and staff:
            person = self.load_optional(ids.staff_id(staff), Staff)
            visitor = person.name if person else None
        body = alert_message(
            kind=alert.kind,
            short_code=ids.short_code(alert.id),
            school_name=entry.name,
            visitor=visitor,
            device=device,
            raised_at=alert.raised_at,
            timezone=entry.timezone,
            where=describe_location(cause.get("location")),
        )
        return [
            alert,
            *(
                request_notification(
                    plan, alert_id=alert.id, school=school, body=body, timestamp=alert.raised_at
                )
                for plan in first_notifications(kind=alert.kind, school=entry.data, body=body)
            ),
        ]

    def device_alert(
        self,
        message: DeviceMessage,
        kind: AlertKind,
        info: DeviceInfo,
        *,
        now: datetime,
        silent: bool = False,
    ) -> list[Aggregate]:
        """The alert a device message raises (see `raise_alert`)."""
        return self.raise_alert(
            key=ids.alert_key_for_message(message.id),
            kind=kind,
            school=info.school,
            staff=info.staff,
            device=message.device,
            cause=device_cause(message),
            now=now,
            silent=silent,
            visitor=info.staff_name,
        )

    def raise_staff_alert(
        self,
        staff_key: str,
        kind: AlertKind,
        *,
        cause_key: str,
        cause: dict[str, Any],
        silent: bool = False,
    ) -> UUID:
        """An alert about a person rather than a device (HELP or the safe word by text)."""
        staff = self.load(ids.staff_id(staff_key), Staff, f"staff member {staff_key!r}")
        raised = self.raise_alert(
            key=cause_key,
            kind=kind,
            school=staff.school,
            staff=staff_key,
            device=None,
            cause=cause,
            now=self.clock.now(),
            silent=silent,
            visitor=staff.name,
        )
        self.save(*raised)
        return raised[0].id

    # -- texts --------------------------------------------------------------

    def receive_sms(self, *, sender: str, body: str, message_sid: str) -> str | None:
        """Handle a text once per MessageSid; returns the reply, if any.

        Staff always get the same reply (see STAFF_REPLY), so duress is silent.
        """
        if self.exists(ids.inbound_sms_id(message_sid)):
            return self._reply_for_repeat(message_sid)
        owner = self.load_optional(ids.phone_id(sender), PhoneNumber)
        if owner is not None and owner.staff:
            return self._staff_text(owner.staff[0], sender, body, message_sid)
        if owner is not None and owner.contacts:
            return self._contact_text(owner.contacts, sender, body, message_sid)
        self.save(
            InboundSms(
                message_sid=message_sid,
                sender=sender,
                who="unknown",
                text="[not kept: unknown sender]",
                command=None,
                timestamp=self.clock.now(),
            )
        )
        return None

    def _reply_for_repeat(self, message_sid: str) -> str | None:
        sms = self.load(ids.inbound_sms_id(message_sid), InboundSms, "text")
        if sms.who.startswith("staff:"):
            return HELP_REPLY if sms.command == StaffCommand.HELP else STAFF_REPLY
        return None

    def _staff_text(self, staff_key: str, sender: str, body: str, message_sid: str) -> str:
        screened = detect_duress(body, visit_commands.safe_word_hashes(self, staff_key))
        text, duress = screened.text, screened.duress
        command = parse_staff_text(text)
        now = self.clock.now()
        self.save(
            InboundSms(
                message_sid=message_sid,
                sender=sender,
                who=f"staff:{staff_key}",
                text=text,
                command=command.value if command else None,
                timestamp=now,
            )
        )
        cause = {"text": str(ids.inbound_sms_id(message_sid)), "via": "sms"}
        if duress:
            self.raise_staff_alert(
                staff_key,
                AlertKind.DURESS,
                cause_key=f"sms:{message_sid}",
                cause=cause,
                silent=True,
            )
            return STAFF_REPLY
        if command is StaffCommand.HELP:
            self.raise_staff_alert(
                staff_key, AlertKind.SOS, cause_key=f"sms:{message_sid}", cause=cause
            )
            return HELP_REPLY
        if command is not None:
            self.staff_command(staff_key, command, source=f"sms:{message_sid}")
        return STAFF_REPLY

    def staff_command(self, staff_key: str, command: StaffCommand, *, source: str) -> None:
        """ARRIVED, LEFT, BACK, OK move the staff member's current visit on."""
        visit_commands.staff_command(self, staff_key, command, source=source)

    def _contact_text(
        self, contacts: list[dict[str, str]], sender: str, body: str, message_sid: str
    ) -> str | None:
        ack = parse_contact_text(body)
        self.save(
            InboundSms(
                message_sid=message_sid,
                sender=sender,
                who=f"contact:{contacts[0]['school']}:{contacts[0]['id']}",
                text=body,
                command="ACK" if ack else None,
                timestamp=self.clock.now(),
            )
        )
        if ack is None:
            return "Lonewatch: reply ACK and the alert's code to take an alert."
        return self.contact_acknowledges(contacts, ack.code, sender=sender)

    def contact_acknowledges(
        self, contacts: list[dict[str, str]], code: str | None, *, sender: str
    ) -> str:
        """A contact texted ACK: with a code it takes that alert, bare the latest they were told of."""
        return escalation.contact_acknowledges(self, contacts, code, sender=sender)

    # -- alerts -------------------------------------------------------------

    def alert(self, alert_id: UUID) -> Alert:
        return self.load(alert_id, Alert, "alert")

    def acknowledge_alert(self, alert_id: UUID, *, by: str, via: str) -> Alert:
        result: list[Alert] = []

        def attempt() -> list[Aggregate]:
            alert = self.alert(alert_id)
            alert.acknowledge(by=by, via=via, timestamp=self.clock.now())
            result[:] = [alert]
            return [alert]

        self.retry_on_conflict(attempt)
        return result[0]

    def resolve_alert(self, alert_id: UUID, *, outcome: Outcome, note: str, by: str) -> Alert:
        result: list[Alert] = []

        def attempt() -> list[Aggregate]:
            alert = self.alert(alert_id)
            alert.resolve(outcome=outcome, note=note, by=by, timestamp=self.clock.now())
            result[:] = [alert]
            return [alert]

        self.retry_on_conflict(attempt)
        return result[0]

    # -- notifications ------------------------------------------------------

    def notification(self, notification_id: UUID) -> Notification:
        return self.load(notification_id, Notification, "notification")

    def record_notification_sent(self, notification_id: UUID, provider_id: str) -> None:
        def attempt() -> list[Aggregate]:
            notification = self.notification(notification_id)
            now = self.clock.now()
            notification.record_sent(provider_id=provider_id, timestamp=now)
            alert = self.load_optional(notification.alert_id, Alert)
            if alert is None:  # a prompt to a visitor is about a visit, not an alert
                return [notification]
            alert.record_notified(
                notification_id=notification_id, contact=notification.contact, timestamp=now
            )
            return [notification, alert]

        self.retry_on_conflict(attempt)

    def record_notification_failed(self, notification_id: UUID, error: str, *, final: bool) -> None:
        """A failed try; the last one falls back to the other channel, and when that has failed
        too a `notification_failed` alert makes it visible (service.application.escalation)."""

        def attempt() -> list[Aggregate]:
            notification = self.notification(notification_id)
            now = self.clock.now()
            notification.record_attempt_failed(error=error, final=final, timestamp=now)
            if not final:
                return [notification]
            return [notification, *escalation.after_final_failure(self, notification, error, now)]

        self.retry_on_conflict(attempt)

    # -- people and tokens --------------------------------------------------

    def issue_token(self, username: str, label: str = "cli") -> str:
        user = self.load_optional(ids.user_id(username), User)
        if user is None:
            raise NotFound(
                f"no user {username!r}: add them under 'users:' in the directory file and import it"
            )
        token = secrets.new_api_token()
        self.save(
            ApiToken(
                digest=secrets.token_digest(token),
                username=username,
                label=label,
                timestamp=self.clock.now(),
            )
        )
        return token

    def set_password(self, username: str, password_hash: str) -> None:
        user = self.load(ids.user_id(username), User, f"user {username!r}")
        user.set_password(password_hash=password_hash, timestamp=self.clock.now())
        self.save(user)

    def principal_for_token(self, token: str) -> Principal | None:
        grant = self.load_optional(ids.token_id(secrets.token_digest(token)), ApiToken)
        if grant is None or grant.revoked:
            return None
        user = self.load_optional(ids.user_id(grant.username), User)
        if user is None:
            return None
        return Principal(username=user.username, school=user.school, role=user.role)


def _zone_of(device: DeviceSpec) -> dict[str, Any]:
    """A device's ARC zone, recorded only when the directory names one (so entries written
    before zones existed are not all recorded again as changed)."""
    return {} if device.zone is None else {"zone": device.zone}


def _keep_or_hash(
    clear: str | None,
    previous_hash: str | None,
    hasher: Callable[[str], str],
    verify: Callable[[str, str], bool],
) -> str | None:
    """Keep the stored hash when the clear value still matches it, so re-imports record nothing."""
    if not clear:
        return None
    if previous_hash and verify(clear, previous_hash):
        return previous_hash
    return hasher(clear)


def device_cause(message: DeviceMessage) -> dict[str, Any]:
    """What a device alert records as its cause: the message, and where the device was
    (shown on the alert, in its SMS and call, the console and the replay)."""
    cause: dict[str, Any] = {"device_message": str(message.id), "device_kind": message.kind}
    location = location_of(message.fields)
    if location is not None:
        cause["location"] = location
    if message.fields.get("source"):
        cause["source"] = message.fields["source"]
    return cause
