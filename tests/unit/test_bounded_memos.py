"""The memos of the printable export let go of their oldest entries past their capacity
after the request that grew them, not inside it (service/records/bounded.py): a record's
cold export with the memos full of other records paid ~30-45 ms freeing what they held
(docs/performance.md, `export8`). Still bounded: past twice the capacity, at once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import pytest

from service.records import bounded
from service.records.bounded import let_go_soon, memos_settled


def _table(n: int) -> OrderedDict[int, str]:
    return OrderedDict((k, str(k)) for k in range(n))


def test_a_memo_past_its_capacity_is_let_go_of_after_the_caller_returns() -> None:
    table, lock = _table(5), threading.Lock()
    with lock:
        let_go_soon(table, 3, lock)
    assert len(table) == 5  # the caller did not pay for it
    assert memos_settled()
    assert list(table) == [2, 3, 4]  # the oldest went first


def test_a_memo_past_twice_its_capacity_is_let_go_of_at_once() -> None:
    table = _table(7)
    let_go_soon(table, 3, threading.Lock())
    assert list(table) == [4, 5, 6]


def test_a_memo_is_let_go_of_under_its_own_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memos' readers keep entries under their lock: the background thread takes it."""
    monkeypatch.setattr(bounded, "QUIET", 0.01)
    table, lock = _table(5), threading.Lock()
    with lock:
        let_go_soon(table, 3, lock)
        time.sleep(0.3)
        assert len(table) == 5
    assert memos_settled()
    assert list(table) == [2, 3, 4]
