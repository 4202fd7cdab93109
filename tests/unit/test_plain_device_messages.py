"""A plain reading's shortcut through the views gives what `project` gives.

The projector takes a heartbeat (a checkin, a battery or location report) that joined no
alert, from a device on no visit, straight to its document and index rows
(`plain_device_message`), not through `project`'s handlers and `Effects`. Whatever the
message and the device's document, the shortcut is either declined or gives the same
document and subjects; and a batch projected with it equals the same batch without it:
documents, changes handed to the live feed and index rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import projections.projector as projector_module
from projections.core import Doc
from projections.projector import Projector
from projections.views import PLAIN_DEVICE_MESSAGE, plain_device_message, project
from service.domain.devices.messages import FACT_KINDS, received

KINDS = st.sampled_from(
    ["heartbeat", "checkin", "battery", "location", "offline", "sos", "fall", "message"]
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "battery": st.integers(min_value=0, max_value=100),
        "lat": st.sampled_from([51.54, None]),
        "lon": st.just(0.71),
        "acc": st.just(12.0),
        "seq": st.integers(min_value=0, max_value=9),
        "clock_skew_seconds": st.integers(min_value=-900, max_value=900),
        "alert_id": st.sampled_from(["", "6f1d2c1e-0000-4000-8000-000000000001"]),
        "text": st.sampled_from(["", "all fine", "HELP"]),
    },
)
DEVICE_DOCS = st.none() | st.fixed_dictionaries(
    {"id": st.just("dev-1"), "school": st.just("s1")},
    optional={
        "counts": st.dictionaries(st.sampled_from(["heartbeat", "sos"]), st.integers(1, 9)),
        "visit": st.sampled_from(["", None, "visit-1"]),
        "clock_skew_seconds": st.just(4),
        "staff": st.just("st-1"),
        "last_seen": st.just("2026-12-07T09:00:00+00:00"),
    },
)
START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _message(number: int, kind: str, fields: dict[str, Any], staff: str | None, ts: bool) -> Any:
    return received(
        UUID(int=number + 1),
        device="dev-1",
        kind=kind,
        msg_id=f"m-{number}",
        device_ts=START if ts else None,
        fields=fields,
        school="s1",
        staff=staff,
        timestamp=START + timedelta(seconds=number),
    )


def _reader(docs: dict[tuple[str, str], Doc | None]) -> Any:
    def read(kind: str, key: str) -> Doc | None:
        return docs.get((kind, key))

    return read


def test_the_shortcut_is_on_for_the_device_message_class() -> None:
    assert PLAIN_DEVICE_MESSAGE is type(_message(0, "heartbeat", {}, None, False))


@settings(max_examples=400, deadline=None)
@given(
    kind=KINDS,
    fields=FIELDS,
    staff=st.sampled_from([None, "", "st-1"]),
    ts=st.booleans(),
    device=DEVICE_DOCS,
)
def test_a_plain_reading_is_projected_as_project_projects_it(
    kind: str, fields: dict[str, Any], staff: str | None, ts: bool, device: Doc | None
) -> None:
    docs: dict[tuple[str, str], Doc | None] = {
        ("device", "dev-1"): device,
        ("school", "s1"): {"policy": {"low_battery_below": 30}},
        ("visit", "visit-1"): {
            "id": "visit-1",
            "school": "s1",
            "state": "departed",
            "low_battery_below": 20,
        },
    }
    event = _message(0, kind, fields, staff, ts)
    plain = plain_device_message(event, _reader(docs))
    effects = project(event, _reader(docs))
    if plain is None:
        # Declined only where `project` does more than the device's document and subjects.
        assert (
            kind not in FACT_KINDS
            or fields.get("alert_id")
            or (device is not None and device.get("visit"))
        )
        return
    document, subjects = plain
    assert effects.docs == {("device", "dev-1"): document}
    assert json.dumps(document) == json.dumps(effects.docs[("device", "dev-1")])  # key order
    assert effects.subjects == list(subjects)


def _project(events: list[Any], *, shortcut: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    class Store:
        def get(self, kind: str, doc_id: str) -> Doc | None:
            if (kind, doc_id) == ("device", "dev-1"):
                return {"id": "dev-1", "school": "s1", "counts": {"sos": 1}}
            if (kind, doc_id) == ("device", "dev-2"):
                return {"id": "dev-2", "school": "s1", "visit": "visit-1"}
            if (kind, doc_id) == ("visit", "visit-1"):
                return {"id": "visit-1", "school": "s1", "state": "arrived"}
            return None

    mapper: Any = type("Mapper", (), {"transcoder": None})()
    projector = Projector(None, mapper, Store())  # type: ignore[arg-type]
    projector._cache.reset(1)  # a view with documents: misses read the store
    with monkeypatch.context() as patch:
        if not shortcut:
            patch.setattr(projector_module, "PLAIN_DEVICE_MESSAGE", None)
        batch = projector._project_events(list(enumerate(events, 1)))
    return json.dumps(
        [
            [list(change) for change in batch.changes],
            [list(write) for write in batch.writes],
            [list(entry) for entry in batch.index],
        ]
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            KINDS,
            FIELDS,
            st.sampled_from([None, "st-1"]),
            st.booleans(),
            st.sampled_from(["dev-1", "dev-2", "dev-3"]),
        ),
        max_size=25,
    )
)
def test_a_batch_projects_the_same_with_and_without_the_shortcut(
    messages: list[tuple[str, dict[str, Any], str | None, bool, str]],
) -> None:
    events = []
    for number, (kind, fields, staff, ts, device) in enumerate(messages):
        event = _message(number, kind, fields, staff, ts)
        vars(event)["device"] = device
        events.append(event)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _project(events, shortcut=True, monkeypatch=monkeypatch) == _project(
            events, shortcut=False, monkeypatch=monkeypatch
        )
