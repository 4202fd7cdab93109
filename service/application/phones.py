"""What a phone's geofence says about a visit: OwnTracks' `leave` is "left the property".

INTERFACES.md section 8: 'a `leave` while the visitor's current visit is at the property
records that they left (source `owntracks`), so "left the property" needs no text; an
`enter` is recorded only.' Called after the transition itself is committed (and again for
a redelivered one: the visit's state makes it happen once).
"""

from __future__ import annotations

from service.application import visits as visit_commands
from service.application.lonewatch import Lonewatch
from service.domain.errors import DomainError
from service.domain.visits.states import VisitState
from service.logs import get_logger

log = get_logger(__name__)


def phone_left_region(app: Lonewatch, device: str, region: str) -> bool:
    """Record that the device's holder left the property of their current visit, if they are
    there; True when it was recorded. Anything else (no visit, not arrived) is logged only."""
    info = app.device_info(device)
    if info is None or info.staff is None:
        return False
    visit = visit_commands.current_visit(app, info.staff)
    if visit is None or visit.state is not VisitState.ARRIVED:
        log.info("phone_left_region_without_visit_at_property", device=device, region=region)
        return False
    try:
        visit_commands.move(
            app,
            visit.id,
            "leave",
            by=f"device:{device}",
            via=f"owntracks: left region {region!r}" if region else "owntracks: left region",
            principal=None,
        )
    except DomainError as exc:
        log.info("phone_left_region_refused", device=device, reason=str(exc))
        return False
    return True
