"""The open alert per device, with two processes recording one fob's presses.

"While the alert the first press raised is open, every later press of that kind from
that device joins it" (service/domain/devices/open_alarm.py). Each process's intake keeps
a cache of the stored pointer; a cache naming an alert since closed must not hide a newer
alert another process raised for the same fob.
"""

from __future__ import annotations

from service.adapters.directory_file import load_directory
from service.domain.alerts.alert import Outcome
from tests.worlds import DIRECTORY, World


def test_a_press_joins_the_alert_another_process_raised_after_this_one_s_was_resolved(
    postgres_url: str,
) -> None:
    one, two = World(postgres_url), World(postgres_url)  # two processes' intakes, one store
    try:
        one.app.import_directory(load_directory(DIRECTORY))
        first = one.press("sos-0001", "p-1").alert_id
        assert first is not None
        one.app.acknowledge_alert(first, by="reception1", via="console")
        one.app.resolve_alert(first, outcome=Outcome.FALSE_ALARM, note="pocket", by="reception1")
        second = two.press("sos-0001", "p-2").alert_id
        assert second is not None and second != first, "a new emergency, a new alert"
        # Process one still remembers `first` (closed): the press joins `second`.
        assert one.press("sos-0001", "p-3").alert_id == second
    finally:
        one.close()
        two.close()
