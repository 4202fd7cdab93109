"""The background worker for whole-record checks (service/records/whole_checks.py): one
check per record in hand, a bound on how many, a failure that frees the record for the
next page (which then checks inline), and an end at shutdown."""

from __future__ import annotations

import threading

from service.records.whole_checks import WholeChecks


def test_a_record_is_checked_once_at_a_time_and_the_worker_is_bounded() -> None:
    gate, runs = threading.Event(), []
    checks = WholeChecks(pending=2)

    def check(subject: str) -> None:
        runs.append(subject)
        gate.wait(10)

    assert checks.start("device:a", lambda: check("device:a"))
    assert checks.start("device:a", lambda: check("device:a"))  # in hand: not made twice
    assert checks.start("device:b", lambda: check("device:b"))
    assert not checks.start("device:c", lambda: check("device:c"))  # full: the page checks
    assert checks.running("device:a") and not checks.running("device:c")
    gate.set()
    checks.wait("device:a")
    checks.wait("device:b")
    checks.close()
    assert runs == ["device:a", "device:b"]
    assert not checks.running("device:a") and not checks.running("device:b")


def test_a_failed_check_frees_its_record() -> None:
    checks = WholeChecks()

    def broken() -> None:
        raise RuntimeError("the store went away")

    assert checks.start("alert:x", broken)
    checks.wait("alert:x")  # returns: the failure is logged, not raised into the page
    assert not checks.running("alert:x")
    assert checks.start("alert:x", lambda: None)  # the next page may start another
    checks.close()
