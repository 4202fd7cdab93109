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
    assert [f.unit for f in result.figures] == ["ms"] * 11
    assert all(math.isfinite(f.value) and f.value > 0 for f in result.figures)
    target, export = replay.TARGET_MS, replay.EXPORT_TARGET_MS
    # The store's own read (the reference); four ways of reading a record (in process and
    # over HTTP, whole and first page), each whole and as of the middle; the export; the
    # client's parse.
    assert [f.target for f in result.figures] == [None, *[target] * 8, export, None]
