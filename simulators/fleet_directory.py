"""The fleet's devices in the directory: their ids and broker secrets, derived so that the
directory file (`lonewatch simulate directory`) and the fleet (`simulate fleet`) agree."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import yaml

FLEET_SEED = "lonewatch-fleet"


def fleet_device_id(n: int) -> str:
    return f"fleet-{n:04d}"


def fleet_secret(device_id: str, seed: str = FLEET_SEED) -> str:
    """Each fleet device's broker secret, derived so the directory and the fleet agree."""
    return hmac.new(seed.encode(), device_id.encode(), hashlib.sha256).hexdigest()[:20]


def fleet_directory(
    base: dict[str, Any], devices: int, school: str | None = None
) -> dict[str, Any]:
    """`base` (a directory file's contents) plus `devices` fleet devices, each with a staff member."""
    directory = dict(base)
    school = school or directory["schools"][0]["id"]
    staff = list(directory.get("staff") or [])
    fleet_devices = list(directory.get("devices") or [])
    for n in range(1, devices + 1):
        device_id = fleet_device_id(n)
        staff.append({"id": f"fs-{n:04d}", "school": school, "name": f"Fleet Visitor {n}"})
        fleet_devices.append(
            {
                "id": device_id,
                "kind": "sos_fob",
                "staff": f"fs-{n:04d}",
                "secret": fleet_secret(device_id),
            }
        )
    directory["staff"] = staff
    directory["devices"] = fleet_devices
    return directory


def fleet_directory_yaml(base_yaml: str, devices: int) -> str:
    return yaml.safe_dump(
        fleet_directory(yaml.safe_load(base_yaml), devices), sort_keys=False, width=120
    )
