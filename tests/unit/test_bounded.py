"""The memos' bound (service/records/bounded.py): a plain `dict` whose oldest go first."""

from __future__ import annotations

from service.records.bounded import SLACK, let_go_oldest


def test_a_batch_past_capacity_lets_go_of_exactly_the_oldest_over() -> None:
    table = {n: str(n) for n in range(100)}
    let_go_oldest(table, 60)
    assert list(table) == list(range(40, 100))
    let_go_oldest(table, 60)  # at capacity: nothing goes
    assert len(table) == 60


def test_one_entry_past_capacity_lets_go_of_a_sixteenth_at_once() -> None:
    """One entry kept at a time (a page's leaves) walks the table's front once per
    sixteenth of its capacity, not once per entry; the newest are always kept."""
    capacity = 64
    table = {n: n for n in range(capacity)}
    table[capacity] = capacity
    let_go_oldest(table, capacity)
    assert list(table) == list(range(capacity // SLACK, capacity + 1))
    for n in range(capacity + 1, capacity + 1 + capacity // SLACK - 1):
        table[n] = n
        let_go_oldest(table, capacity)
        assert len(table) <= capacity
    assert len(table) == capacity
    assert max(table) == capacity + capacity // SLACK - 1


def test_a_re_kept_key_keeps_its_place() -> None:
    """Kept again (an `update` with a key already there), an entry is no younger: it goes
    when its first keeping would have (as an `OrderedDict`'s `update` did)."""
    table = {"a": 1, "b": 2, "c": 3}
    table.update({"a": 9, "d": 4})
    let_go_oldest(table, 3)
    assert table == {"b": 2, "c": 3, "d": 4}


def test_a_small_capacity_lets_go_of_one_at_a_time() -> None:
    table = {n: n for n in range(4)}
    let_go_oldest(table, 3)
    assert list(table) == [1, 2, 3]
