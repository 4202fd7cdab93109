"""`heartbeat_profile --stages`: each stage's method is timed while installed, and put back
after (the benchmark runs the service in its own process, but a stage left wrapped would
cost every later call a clock reading)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from benchmarks.heartbeat_stages import STAGES, Stages
from projections.doc_cache import DocCache
from projections.projector import Projector
from service.domain.devices.messages import DeviceMessage


class _EmptyStore:
    def get(self, kind: str, doc_id: str) -> None:
        return None


def _heartbeats(count: int) -> list[object]:
    start = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    events: list[object] = []
    for n in range(count):
        message = DeviceMessage(
            device=f"dev-{n % 10}",
            kind="heartbeat",
            message_id=None,
            device_ts=None,
            fields={"battery": 80},
            school="s1",
            staff=None,
            timestamp=start + timedelta(seconds=n),
        )
        events.extend(message.collect_events())
    return events


def test_a_stage_is_counted_while_installed_and_its_method_put_back_after() -> None:
    original = Projector.__dict__["_project_events"]
    projector = Projector.__new__(Projector)
    projector._cache = DocCache(1000)
    projector._cache.reset(0)
    projector.store = _EmptyStore()  # type: ignore[assignment]
    projector._writing = None
    events = _heartbeats(200)
    stages = Stages()
    with stages.installed():
        assert Projector.__dict__["_project_events"] is not original
        batch = projector._project_events(enumerate(events, 1))
    label = "workers:   projecting (handlers, changes, index rows)"
    assert stages.calls[label] == 1
    assert stages.seconds[label] > 0
    assert len(batch.index) == 200  # the wrapped method's own result, unchanged
    for other, *_ in STAGES:
        if other != label:
            assert stages.calls[other] == 0
    assert Projector.__dict__["_project_events"] is original
    line = stages.table(200)[[stage[0] for stage in STAGES].index(label)]
    assert line.endswith(f"( 0.005 calls)  {label}")
    stages.reset()
    assert stages.calls[label] == 0
