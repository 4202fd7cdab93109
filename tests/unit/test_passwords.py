"""A password check on one thread says what argon2-cffi's own `verify` says."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError

from service.adapters.passwords import verify

HASHERS = [
    PasswordHasher(time_cost=1, memory_cost=8192, parallelism=4),
    PasswordHasher(time_cost=2, memory_cost=4096, parallelism=2, type=Type.I),
    PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.D),
]


@pytest.mark.parametrize("hasher", HASHERS, ids=["argon2id p=4", "argon2i p=2", "argon2d p=1"])
@pytest.mark.parametrize("password", ["correct horse battery", "", "ünïcødé ✓"])
def test_the_right_password_passes_and_any_other_fails(
    hasher: PasswordHasher, password: str
) -> None:
    encoded = hasher.hash(password)
    assert verify(encoded, password) is True
    assert verify(encoded, password + " ") is False
    assert verify(encoded, password.upper() + "x") is False


def test_an_unreadable_hash_is_refused_as_such() -> None:
    with pytest.raises(InvalidHashError):
        verify("not a hash", "anything")


def test_a_check_of_a_four_lane_hash_uses_one_core_at_most() -> None:
    encoded = PasswordHasher().hash("x")  # the defaults: 64 MiB, 3 passes, 4 lanes
    started, cpu = time.perf_counter(), time.process_time()
    assert verify(encoded, "y") is False
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"\none check: {wall * 1000:.0f} ms wall, {used * 1000:.0f} ms of CPU")
    assert used <= wall * 1.1 + 0.01  # one thread cannot use more CPU than time passed
