"""The read side's quicker verdicts (service/adapters/sealing.py `verified_stream`,
`summary`) say exactly what the general ones say (docs/performance.md, asof5)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from service.adapters.sealing import (
    GENESIS,
    MAGIC,
    EventCheck,
    StreamCheck,
    check_stream,
    seal,
    summary,
    verified_stream,
)


def _sealed_stream(originator_id: UUID, count: int) -> list[StoredEvent]:
    previous, stream = GENESIS, []
    for version in range(1, count + 1):
        body = f"event {version}".encode()
        previous = seal(previous, originator_id, version, "topic", body)
        stream.append(StoredEvent(originator_id, version, "topic", MAGIC + previous + body))
    return stream


def test_a_verified_stream_is_what_check_stream_makes_of_it() -> None:
    originator_id = uuid4()
    stream = _sealed_stream(originator_id, 3)
    general = check_stream(originator_id, stream)
    quick = verified_stream(str(originator_id), [bytes(s.state)[4:36] for s in stream])
    assert general.ok
    assert quick == general
    assert [vars(e) for e in quick.events] == [vars(e) for e in general.events]
    assert repr(quick) == repr(general)


def _summary_by_comprehensions(streams: list[StreamCheck]) -> dict[str, Any]:
    """`summary` as it was written before asof5."""
    return {
        "verified": all(s.ok for s in streams),
        "streams": len(streams),
        "events": sum(len(s.events) for s in streams),
        "heads": {s.originator_id: s.head for s in streams},
        "problems": [
            {"aggregate_id": s.originator_id, "detail": p} for s in streams for p in s.problems()
        ],
        "checks": {s.originator_id: {str(e.version): e.ok for e in s.events} for s in streams},
    }


def test_summary_says_what_a_comprehension_a_field_says() -> None:
    good = [check_stream(u, _sealed_stream(u, 2)) for u in (uuid4(), uuid4())]
    altered_id = uuid4()
    altered = _sealed_stream(altered_id, 3)
    state = bytes(altered[1].state)
    altered[1] = StoredEvent(altered_id, 2, "topic", state[:-1] + b"!")
    bad = check_stream(altered_id, altered)
    empty = StreamCheck(originator_id=str(uuid4()), events=[])
    odd = StreamCheck(
        originator_id=str(uuid4()), events=[EventCheck(version=1, seal=None, ok=False)]
    )
    for streams in ([], good, [good[0], bad, good[1]], [empty, odd], [bad, empty]):
        assert summary(streams) == _summary_by_comprehensions(streams)
        found = summary(streams)
        assert list(found["heads"]) == [s.originator_id for s in streams]
    assert not summary([good[0], bad])["verified"]
    assert summary([good[0], bad])["problems"] == [
        {"aggregate_id": str(altered_id), "detail": cast("str", p)} for p in bad.problems()
    ]
