"""The names stored events were written under before a domain module moved (issue 11).

eventsourcing stores each event's topic, `module:Class.Event`, and resolves it when the
event is read: a store written before a move names the old module, and must keep
loading (tests/contract/test_stored_events_load.py opens one written in December 2026).

Each class of a moved module is registered under its old topic, `old.module:Class`;
nested event classes (`old.module:Class.Event`) then resolve through their class. Old
*module* names are deliberately not registered: several are now the names of packages
(`service.domain.alerts` is the package holding `service.domain.alerts.alert`), and the
library resolves an unknown topic by trying registered module prefixes, so registering
`service.domain.alerts` would send `service.domain.alerts.alert:Alert` to a module that
does not exist. Moving a domain module again: add its old name here.
"""

from __future__ import annotations

import importlib
import inspect

from eventsourcing.utils import register_topic

MOVED_MODULES: dict[str, str] = {
    "service.domain.alerts": "service.domain.alerts.alert",
    "service.domain.escalation": "service.domain.alerts.escalation",
    "service.domain.ladder": "service.domain.alerts.ladder",
    "service.domain.notifications": "service.domain.alerts.notifications",
    "service.domain.duress": "service.domain.alerts.duress",
    "service.domain.limits": "service.domain.alerts.limits",
    "service.domain.visits": "service.domain.visits.visit",
    "service.domain.overdue": "service.domain.visits.overdue",
    "service.domain.visit_rules": "service.domain.visits.rules",
    "service.domain.directory": "service.domain.people.directory",
    "service.domain.access": "service.domain.people.access",
    "service.domain.sessions": "service.domain.people.sessions",
    "service.domain.sign_in_limits": "service.domain.people.sign_in_limits",
    "service.domain.texts": "service.domain.people.texts",
    "service.domain.records": "service.domain.people.record_access",
    "service.domain.device_health": "service.domain.devices.health",
    "service.domain.device_messages": "service.domain.devices.messages",
    "service.domain.rejected_messages": "service.domain.devices.rejected",
}
"""Old module -> the module its classes live in now."""


def register_moved_topics() -> None:
    """Register `old.module:Class` for every class defined in each moved module.

    Idempotent (the library accepts the same registration twice)."""
    for old, new in MOVED_MODULES.items():
        module = importlib.import_module(new)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == new:
                register_topic(f"{old}:{name}", obj)
