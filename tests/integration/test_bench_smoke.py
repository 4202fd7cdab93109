"""The cheapest benchmark in its quick mode, so that the benchmarks keep running as the code moves."""

from __future__ import annotations

import math

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, need_service, pg_admin_parts


@pytest.mark.postgres
def test_replay_benchmark_runs_and_reports_every_figure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_service("PostgreSQL", *pg_admin_parts())
    from benchmarks import common, replay

    monkeypatch.setattr(common, "POSTGRES_ADMIN_URL", POSTGRES_ADMIN_URL)
    result = replay.run(quick=True)
    # the reference, five ways of reading a record each whole and as of the middle, the cold
    # first page also as of 1/4 and 7/10, the first opening after a restart and one with
    # nothing saved anywhere, each as of the middle and 1/4, a cold
    # first page with its verdict, the console's poll for a verdict before and now, the export
    # warm and cold
    timed = 22
    assert [f.unit for f in result.figures] == ["ms"] * (2 * timed + 1)
    assert all(math.isfinite(f.value) and f.value >= 0 for f in result.figures)
    assert all(f.value > 0 for f in result.figures[:timed])
    target, export = replay.TARGET_MS, replay.EXPORT_TARGET_MS
    # The store's own read (the reference); five ways of reading a record (in process and
    # over HTTP, whole and first page, the first page cold), each whole and as of the
    # middle; the cold first page and then its verdict; the two polls; the export warm and
    # cold; then this process's
    # CPU for each of those; the client's parse.
    assert [f.target for f in result.figures] == [
        None,
        *[target] * (timed - 3),
        export,
        export,
        *[None] * (timed + 1),
    ]
    assert all(f.name.endswith("this process's CPU") for f in result.figures[timed:-1])
