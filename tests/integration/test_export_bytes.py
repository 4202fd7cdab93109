"""The printable export is the same bytes however quickly it is made.

`incident_record` and `render_html` take short cuts for a 10,000-event record (streams
taken in the order read, no id turned to text to be compared, rows told from kept texts).
Here a world with every kind of event (heartbeats, a visit and its overdue ladder, an SOS
with texts, calls, tries and receipts, taken and resolved, a staff member named in a note)
is exported by them and by the plain way written out below, which reads every event by
its position, each stream whole through the library, checks every seal and Merkle leaf
afresh and tells each row on its own: the two pages must be equal, byte for byte, for
each subject, whole and as of an instant, also once a row has been altered and a stream's
tail removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from service.adapters.sealing import check_stream, summary
from service.adapters.signing import SigningKey
from service.application import outbox
from service.application.device_intake import DeviceIntake
from service.bootstrap import build
from service.clock import FakeClock
from service.config import Settings
from service.container import Container
from service.domain.alerts.alert import Outcome
from service.records import export
from service.records.export import render_html
from service.records.proofs import export_proofs, stream_problems
from service.records.replay import incident_record
from service.records.subject_states import staff_names, states_after_each
from service.records.timeline import as_rows, subject_events
from tests.console_world import a_reception_task, heartbeat, settle, with_every_role
from tests.devices import Devices
from tests.integration.test_integrity import tamper
from tests.integration.test_merkle_record import delete_events

KEY = SigningKey.generate()
ZONE = "Europe/London"
EXPORTED_AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[Container, FakeClock]]:
    clock = FakeClock()
    c = build(
        Settings(
            database_url=database_url,
            mqtt_url="mqtt://127.0.0.1:1",
            signing_key=KEY.setting(),
        ),
        clock=clock,
    )
    with_every_role(c.app)
    yield c, clock
    c.close()


def a_busy_day(c: Container, clock: FakeClock) -> UUID:
    """A few hundred events of every kind about one device and its visitor; the SOS's id."""
    device = Devices(DeviceIntake(c.app))
    for n in range(150):  # the device's heartbeats, its battery running down
        device.heartbeat("sos-0001", 90 - n // 3, seq=700_000 + n)
        clock.advance(timedelta(seconds=37, microseconds=1234 * n))
    c.projector.catch_up()
    a_reception_task(c, clock)  # a visit, overdue, up its ladder to reception
    pressed = device.press("sos-0001", "press-1", lat=51.5412, lon=0.7104, acc=12)
    assert pressed.alert_id is not None
    c.projector.catch_up()
    for n, doc in enumerate(c.views.find("notification", states=["requested"])):
        key = UUID(doc["id"])
        if outbox.start_attempt(c.app, key):
            clock.advance(timedelta(seconds=1))
            outbox.record_sent(c.app, key, f"SM{n}")
            status = "no-answer" if doc["channel"] == "voice" else "delivered"
            outbox.report_status(c.app, key, status=status, provider_id=f"SM{n}", answered_by=None)
    c.projector.catch_up()
    clock.advance(timedelta(minutes=1))
    settle(c)
    c.app.acknowledge_alert(pressed.alert_id, by="operator:reception1", via="api")
    clock.advance(timedelta(minutes=2))
    c.app.resolve_alert(
        pressed.alert_id,
        outcome=Outcome.SAFE,
        note="s-jones (staff) called back <all fine> & home",
        by="dsl:dsl1",
    )
    for _ in range(20):
        heartbeat(c, "sos-0001", battery=40)
        clock.advance(timedelta(seconds=30))
    settle(c)
    assert c.merkle is not None
    c.merkle.catch_up()
    return pressed.alert_id


def fast(c: Container, subject: str, as_of: datetime | None) -> str:
    """The export as the handler makes it."""
    record = incident_record(
        c.app,
        c.views,
        subject,
        as_of=as_of,
        merkle=c.merkle,
        key=KEY,
        with_proofs=True,
        with_paths=False,
        zone=ZoneInfo(ZONE),
        with_states=False,
        with_data=False,
    )
    return render_html(
        record, exported_by="dsl1", exported_at=EXPORTED_AT, access_id="a-1", timezone=ZONE
    )


def plain(c: Container, subject: str, as_of: datetime | None) -> str:
    """The same export made the plain way: each event read by position, each stream read
    whole by the library and checked afresh, each leaf recomputed, each row told alone."""
    assert c.merkle is not None
    horizon = c.merkle.size()[1]
    events = subject_events(c.app, c.views, subject, as_of=as_of)
    ids = list(dict.fromkeys(e.originator_id for _, e in events))
    read = {u: list(c.app.recorder.select_events(u)) for u in ids}
    stored = {
        u: [
            n
            for n in c.app.recorder.select_notifications(start=1, limit=10**6)
            if n.originator_id == u
        ]
        for u in ids
    }
    for u in ids:
        assert [(n.originator_version, bytes(n.state)) for n in stored[u]] == [
            (s.originator_version, bytes(s.state)) for s in read[u]
        ]
    check = summary([check_stream(u, read[u]) for u in ids])
    checks = check.pop("checks")
    positions = {(e.originator_id, e.originator_version): p for p, e in events}
    logged = stream_problems(c.merkle, stored, positions, horizon)
    check["problems"] += [
        {"aggregate_id": str(u), "detail": d} for (u, _), d in sorted(logged.items())
    ]
    check["verified"] = check["verified"] and not logged
    rows = as_rows(events, ZoneInfo(ZONE), staff_names(c.views))
    for row in rows:
        key = (UUID(row["aggregate_id"]), int(row["version"]))
        row["sealed"] = checks[row["aggregate_id"]][str(row["version"])] and key not in logged
    kind, _, key_text = subject.partition(":")
    record = {
        "subject": {kind: key_text},
        "as_of": as_of,
        "state": states_after_each(c.views, subject, events)[-1] if events else None,
        "events": rows,
        "integrity": check,
        "merkle": export_proofs(
            c.merkle, [p for p, _ in events], key=KEY, now=c.app.clock.now(), with_paths=False
        ),
    }
    page = render_html(
        record, exported_by="dsl1", exported_at=EXPORTED_AT, access_id="a-1", timezone=ZONE
    )
    # Each row told alone, with the plain escape and the plain telling of a time.
    zone = ZoneInfo(ZONE)
    told = "".join(
        f"<tr><td>{i}</td><td>{escape(export._when(row['recorded_at'], zone))}</td>"
        f"<td>{escape(row.get('who') or export.source_words(row['source']))}</td>"
        f"<td>{escape(row['summary'] or '—')}</td>"
        f"<td>{'✓' if row['sealed'] else '✗ altered'}</td></tr>"
        for i, row in enumerate(rows, start=1)
    )
    shown = "".join(sorted(_rows_of(page)))
    assert shown == "".join(sorted(_rows_of(f"<tbody>{told}</tbody>")))
    return page


def _rows_of(page: str) -> list[str]:
    return re.findall(r"<tr><td>\d+</td>.*?</tr>", page)


def subjects(c: Container, alert: UUID) -> list[str]:
    return [f"alert:{alert}", "device:sos-0001", "staff:s-jones"]


def test_the_export_is_the_plain_export_byte_for_byte(
    served: tuple[Container, FakeClock],
) -> None:
    c, clock = served
    alert = a_busy_day(c, clock)
    middle = c.app.alert(alert).raised_at + timedelta(seconds=90)  # texts sent, not yet taken
    for subject in subjects(c, alert):
        for as_of in (None, middle):
            made = fast(c, subject, as_of)
            assert made.count("<tr><td>") > (10 if subject.startswith("alert") else 150)
            assert made == plain(c, subject, as_of), (subject, as_of)
    # Altered and removed rows are named the same way by both.
    rows = incident_record(c.app, c.views, "device:sos-0001")["events"]
    beat = next(r for r in rows if r["data"].get("fields", {}).get("seq") == 700_040)
    tamper(c.app, UUID(beat["aggregate_id"]), beat["version"], b"700040", b"799999")
    delete_events(_World(c), alert, 3)
    for subject in subjects(c, alert):
        made = fast(c, subject, None)
        assert "Integrity check FAILED" in made
        assert made == plain(c, subject, None), subject


class _World:
    def __init__(self, c: Container) -> None:
        self.app = c.app
