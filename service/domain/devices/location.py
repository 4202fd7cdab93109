"""Where a device said it was, in words a person can act on.

A pair of bare numbers helps nobody who reads an SMS at a desk: an alert carries the
address where a device (or Traccar's geocoder) gave one, and otherwise a map link that
opens on any phone. Pure: the caller hands over the recorded fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

MAP_URL: Final = "https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}&zoom=17"
"""OpenStreetMap's marker link: no account, no key, opens in a phone's browser or map app.
Five decimals is about a metre, finer than any device's fix."""

MAX_ADDRESS_CHARS: Final = 200


def map_link(lat: float, lon: float) -> str:
    return MAP_URL.format(lat=lat, lon=lon)


def location_of(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The location a recorded device message gives (`lat`, `lon`, `acc`, `address`), with
    its map link; None when it gives no position and no address."""
    lat, lon = fields.get("lat"), fields.get("lon")
    address = fields.get("address")
    has_fix = isinstance(lat, int | float) and isinstance(lon, int | float)
    has_address = isinstance(address, str) and bool(address.strip())
    if not has_fix and not has_address:
        return None
    location: dict[str, Any] = {}
    if has_fix:
        location.update(lat=float(lat), lon=float(lon), map=map_link(float(lat), float(lon)))  # type: ignore[arg-type]
        if isinstance(fields.get("acc"), int | float):
            location["acc"] = float(fields["acc"])
    if has_address:
        location["address"] = str(address).strip()[:MAX_ADDRESS_CHARS]
    return location


def describe(location: Mapping[str, Any] | None) -> str | None:
    """'12 High Street, Southend (within 15 m)' or the map link: what an SMS says."""
    if not location:
        return None
    within = f" (within {round(location['acc'])} m)" if location.get("acc") is not None else ""
    if location.get("address"):
        return f"{location['address']}{within}"
    if location.get("map"):
        return f"{location['map']}{within}"
    return None


def spoken(location: Mapping[str, Any] | None) -> str | None:
    """What a call reads out: the address; a link is sent by text, never read aloud."""
    if not location:
        return None
    if location.get("address"):
        return str(location["address"])
    return "a map link is in the text message" if location.get("map") else None
