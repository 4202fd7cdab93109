"""When a device message repeats one already recorded, and what a repeat is answered with.

A device sends a message again, with the same `id`, until it is acknowledged; the same
device and id are recorded once (INTERFACES.md section 2). A device may also reuse an `id`
for another message (a counter restarted at a reboot, one counter per kind). The rules:

- A message under an id that is stored already, or met earlier in its group, repeats that
  message only if it is of the same kind (`is_repeat_of`).
- An alarm (sos, fall) repeats its original only while the alert the original raised or
  joined exists: its answer names that alert, and a device must never be told help is
  coming for an alert no one sees.
- When that alert has been resolved, a `ts` on both the alarm and its original, and
  differing, shows another press (a counter restarted at a reboot must not be answered with
  an alert a person resolved days ago); without a `ts` on both, or with the same, it is a
  repeat.
- A text (the phone app's `message`) that asked for help repeats its original like an alarm:
  its answer names the alert the original raised (SOS, or duress under the safe word), so a
  phone that did not hear `alert_received` and sends HELP again is answered again, as a
  fob pressing again is.
- Any other message under a used id is a new one: recorded without the id
  (`without_reused_id`) and flagged `id_reused`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from uuid import UUID

from service.application.device_outcomes import Intaken, Outcome
from service.application.directory_lookup import DeviceInfo
from service.application.unit_of_work import UnitOfWork
from service.domain import ids
from service.domain.alerts.alert import Alert, AlertKind
from service.domain.devices.health import press_joins_alert
from service.domain.devices.messages import (
    ALARM_KINDS,
    DeviceMessage,
    DeviceReading,
    is_repeat_of,
    without_reused_id,
)
from service.domain.visits.commands import parse_visitor_text
from service.domain.visits.text_alarms import asks_for_help

RecordAlone = Callable[[DeviceReading, DeviceInfo], Intaken]
"""Records one reading in a transaction of its own (`DeviceIntake._record_alone`)."""


class InGroup:
    """The readings of one group met so far, by message id: a reading repeats the first one
    before it of its kind under the same id (none of them is stored yet)."""

    def __init__(self, readings: Sequence[DeviceReading]) -> None:
        self._readings = readings
        self._met: dict[int, list[int]] = {}

    def repeated(self, index: int, message_key: int) -> int | None:
        """The index of the earlier reading the one at `index` repeats, or None; either
        way the reading is met, for those after it. `message_key`: its message id's `.int`
        (hashed in C, where a UUID's hash is a Python call)."""
        met = self._met.get(message_key)
        if met is None:  # the common case: the first under its id
            self._met[message_key] = [index]
            return None
        met.append(index)
        reading = self._readings[index]
        same = next((i for i in met if is_repeat_of(reading, self._readings[i].kind)), index)
        return None if same == index else same


class ByInt(Collection[UUID]):
    """A set of message ids kept by their `.int`: adding one and asking about it hash an int
    in C, not a UUID in Python (once a heartbeat each, on the bulk lane)."""

    def __init__(self) -> None:
        self._ids: dict[int, UUID] = {}

    def add(self, message_id: UUID) -> None:
        self._ids[message_id.int] = message_id

    def __contains__(self, message_id: object) -> bool:
        return isinstance(message_id, UUID) and message_id.int in self._ids

    def __iter__(self) -> Iterator[UUID]:
        return iter(self._ids.values())

    def __len__(self) -> int:
        return len(self._ids)

    def left_out(self, recorded: Iterable[UUID | str]) -> set[UUID]:
        """Those of these ids not among `recorded` (the ids of the events the insert
        recorded): what it left out."""
        rest = dict(self._ids)
        for given in recorded:
            rest.pop((given if type(given) is UUID else UUID(str(given))).int, None)
        return set(rest.values())


def repeat(uow: UnitOfWork, reading: DeviceReading, message_id: UUID) -> Intaken | None:
    """The answer to a repeat of the message stored under `message_id` (an alarm's names
    the alert it raised or joined), or None when that message is another one: another
    kind, or an alarm whose alert is not there to name (the device would be told help is
    coming for an alert no one sees), or an alarm whose alert is closed and whose `ts`
    differs from its original's: another press (a counter restarted at a reboot must not
    be answered with an alert a person resolved days ago). Without a `ts` on both, it is a
    repeat: the same device and id are recorded once (INTERFACES.md section 2)."""
    stored = uow.load_optional(message_id, DeviceMessage)
    if stored is None or not is_repeat_of(reading, stored.kind):
        return None
    if reading.kind not in ALARM_KINDS:
        return _text_repeat(uow, stored, message_id) or Intaken(Outcome.DUPLICATE, message_id)
    # A press that joined an open alert names it; one that raised its own does not need to.
    named = stored.fields.get("alert_id")
    alert_id = UUID(str(named)) if named else ids.alert_id(ids.alert_key_for_message(message_id))
    alert = uow.load_optional(alert_id, Alert)
    if alert is None:
        return None
    if (
        not press_joins_alert(alert.is_open)
        and reading.device_ts is not None
        and stored.device_ts is not None
        and reading.device_ts != stored.device_ts
    ):
        return None  # another press: a repeat carries its original's `ts`
    return Intaken(Outcome.DUPLICATE, message_id, alert_id, AlertKind(reading.kind))


def _text_repeat(uow: UnitOfWork, stored: DeviceMessage, message_id: UUID) -> Intaken | None:
    """A repeated text that asked for help, answered as its original was: naming the alert
    it raised (its key is the message's, as for a press) and announced whatever its kind
    (under the safe word, the silent duress alert: answered as HELP alone would be). The
    stored text is the screened one, as the original was read (text_alarms.py)."""
    text = stored.fields.get("text")
    if stored.kind != "message" or not isinstance(text, str):
        return None
    if not asks_for_help(parse_visitor_text(text)):
        return None
    alert = uow.load_optional(ids.alert_id(ids.alert_key_for_message(message_id)), Alert)
    if alert is None:
        return None
    return Intaken(Outcome.DUPLICATE, message_id, alert.id, alert.kind, asked_for_help=True)


def duplicate(
    uow: UnitOfWork, reading: DeviceReading, message_id: UUID, record_alone: RecordAlone
) -> Intaken:
    """What a reading found stored under its id after all (a lost race, an insert that
    left it out) amounts to: a repeat of that message, or, when that message is another
    one, a new message recorded on its own without the id."""
    found = repeat(uow, reading, message_id)
    if found is not None:
        return found
    info = uow.directory.device(reading.device_id)
    assert info is not None, "a reading reaches the store only from a known device"
    return id_reused(record_alone(without_reused_id(reading), info))


def id_reused(result: Intaken) -> Intaken:
    """Flagged (and so counted) as recorded without the `id` another message had."""
    return result._replace(flags=(*result.flags, "id_reused"))
