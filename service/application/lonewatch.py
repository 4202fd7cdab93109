"""Lonewatch: the unit of work with the use cases as methods, for the HTTP API, the CLI
and the tests, which hold one object.

A facade only: each method hands its unit of work (itself) to the use case that holds the
rule (service/application/<use case>.py). Use cases never import this module; they take a
`UnitOfWork`, so nothing here forms an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from service.application import alerts, credentials, outbox, texts, visitor_texts
from service.application.acknowledgement import AlertFinder, contact_acknowledges
from service.application.directory_import import ImportReport, import_directory
from service.application.directory_lookup import DeviceInfo
from service.application.unit_of_work import Contended, UnitOfWork
from service.clock import Clock
from service.domain.alerts.alert import Alert, AlertKind, Outcome
from service.domain.alerts.notifications import Notification
from service.domain.people.access import Principal
from service.domain.people.directory import Directory
from service.domain.people.texts import StaffCommand

__all__ = ["Contended", "DeviceInfo", "ImportReport", "Lonewatch"]


class Lonewatch(UnitOfWork):
    def __init__(
        self,
        env: dict[str, str],
        clock: Clock,
        *,
        alert_finder: AlertFinder | None = None,
        before_insert: Callable[[], object] | None = None,
    ) -> None:
        """`alert_finder`: open alerts of some schools, from the views (how a texted ACK
        finds its alert; without it ACK by text is refused). `before_insert`: see
        `UnitOfWork`."""
        super().__init__(env, clock, before_insert=before_insert)
        self.alert_finder = alert_finder

    # -- directory ----------------------------------------------------------

    def import_directory(self, directory: Directory) -> ImportReport:
        return import_directory(self, directory)

    def device_info(self, device: str) -> DeviceInfo | None:
        return self.directory.device(device)

    def forget_directory_cache(self) -> None:
        """Called when the directory changed in another process (seen by the projections)."""
        self.directory.forget()

    # -- alerts -------------------------------------------------------------

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
        return alerts.raise_alert(
            self,
            key=key,
            kind=kind,
            school=school,
            staff=staff,
            device=device,
            cause=cause,
            now=now,
            silent=silent,
            notify=notify,
            visitor=visitor,
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
        return alerts.raise_staff_alert(
            self, staff_key, kind, cause_key=cause_key, cause=cause, silent=silent
        )

    def alert(self, alert_id: UUID) -> Alert:
        return self.load(alert_id, Alert, "alert")

    def acknowledge_alert(self, alert_id: UUID, *, by: str, via: str) -> Alert:
        return alerts.acknowledge_alert(self, alert_id, by=by, via=via)

    def resolve_alert(self, alert_id: UUID, *, outcome: Outcome, note: str, by: str) -> Alert:
        return alerts.resolve_alert(self, alert_id, outcome=outcome, note=note, by=by)

    # -- texts --------------------------------------------------------------

    def receive_sms(self, *, sender: str, body: str, message_sid: str) -> str | None:
        finder: AlertFinder | None = self.alert_finder
        return texts.receive_sms(self, finder, sender=sender, body=body, message_sid=message_sid)

    def staff_command(self, staff_key: str, command: StaffCommand, *, source: str) -> None:
        visitor_texts.staff_command(self, staff_key, command, source=source)

    def contact_acknowledges(
        self, contacts: list[dict[str, str]], code: str | None, *, sender: str
    ) -> str:
        return contact_acknowledges(self, self.alert_finder, contacts, code, sender=sender)

    # -- notifications ------------------------------------------------------

    def notification(self, notification_id: UUID) -> Notification:
        return self.load(notification_id, Notification, "notification")

    def record_notification_sent(self, notification_id: UUID, provider_id: str) -> None:
        outbox.record_sent(self, notification_id, provider_id)

    def record_notification_failed(self, notification_id: UUID, error: str, *, final: bool) -> None:
        outbox.record_failed(self, notification_id, error, final=final)

    # -- people and tokens --------------------------------------------------

    def issue_token(self, username: str, label: str = "cli") -> str:
        return credentials.issue_token(self, username, label)

    def set_password(self, username: str, password_hash: str) -> None:
        credentials.set_password(self, username, password_hash)

    def principal_for_token(self, token: str) -> Principal | None:
        return credentials.principal_for_token(self, token)
