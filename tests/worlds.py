"""Worlds for tests, built in a line or two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.projector import Projector
from projections.store import ViewStore, open_view_store
from service.adapters.directory_file import load_directory
from service.adapters.event_store import eventsourcing_env, views_location
from service.application import acknowledgement
from service.application.device_intake import DeviceIntake, Intaken
from service.application.lonewatch import Lonewatch
from service.clock import Clock, FakeClock
from tests.devices import Devices

DIRECTORY = Path(__file__).parent / "fixtures" / "directory.yaml"


class World:
    """The application, its views, the gateway's intake and a fake clock over one database.

    Devices send through `press`/`send` (tests/devices.py): the gateway's own parse and
    intake, as an MQTT message would arrive."""

    def __init__(self, database_url: str, clock: Clock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.views: ViewStore = open_view_store(views_location(database_url))
        self.app = Lonewatch(
            eventsourcing_env(database_url),
            self.clock,
            alert_finder=acknowledgement.find_by_schools(self.views),  # as bootstrap.build does
        )
        self.projector = Projector(self.app.recorder, self.app.mapper, self.views)
        self.intake = DeviceIntake(self.app)
        self.devices = Devices(self.intake)

    def press(self, device: str, msg_id: str | None = None, **fields: Any) -> Intaken:
        """The device's SOS button, as the gateway receives it."""
        return self.devices.press(device, msg_id, **fields)

    def send(self, device: str, kind: str, body: bytes | dict[str, Any] | None = None) -> Intaken:
        return self.devices.send(device, kind, body)

    def close(self) -> None:
        self.views.close()
        self.app.close()


def a_trust_with_lone_visitors(database_url: str, clock: Clock | None = None) -> World:
    world = World(database_url, clock)
    world.app.import_directory(load_directory(DIRECTORY))
    return world
