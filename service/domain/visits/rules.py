"""The home-visit policies' rules a sentence long, as plain functions and values.

Who may authorise, when only the headteacher may, what makes an SOS device fit to
take, what a pupil reference may look like, what a risk assessment must cover.
Nothing here reads a clock or stores anything: each is testable in a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.phone_numbers import phone_problem
from service.domain.visits.policy import roles_words


class Purpose(StrEnum):
    """The reasons for a home visit the policies list."""

    PROCEDURAL = "procedural"
    WORK_DROP_OFF_OR_COLLECT = "work_drop_off_or_collect"
    SAFE_AND_WELL = "safe_and_well"
    ATTENDANCE = "attendance"
    TRANSITION = "transition"
    TRANSPORT_PUPIL = "transport_pupil"
    RELATIONSHIP_BUILDING = "relationship_building"
    OTHER = "other"


class Hazard(StrEnum):
    """The hazards of the policies' Community Lone Working Risk Assessment (appendix)."""

    AGGRESSIVE_PERSON = "aggressive_person"
    ANIMALS = "animals"
    DRIVING = "driving"
    PUBLIC_AREAS = "public_areas"
    ILLNESS_OR_INJURY = "illness_or_injury"
    ENTERING_BEDROOM = "entering_bedroom"
    TRANSPORTING_PUPIL = "transporting_pupil"


# Every school's appendix assesses these five; the other two when the visit involves them.
ALWAYS_ASSESSED = (
    Hazard.AGGRESSIVE_PERSON,
    Hazard.ANIMALS,
    Hazard.DRIVING,
    Hazard.PUBLIC_AREAS,
    Hazard.ILLNESS_OR_INJURY,
)


class Likelihood(StrEnum):
    REMOTE = "remote"
    POSSIBLE = "possible"
    LIKELY = "likely"


class HarmSeverity(StrEnum):
    MINOR = "minor"
    SERIOUS = "serious"
    MAJOR = "major"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ReportOutcome(StrEnum):
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    ENTRY_REFUSED = "entry_refused"
    LEFT_EARLY_FOR_SAFETY = "left_early_for_safety"
    OTHER = "other"


class CallHomeOutcome(StrEnum):
    """What reception found when they rang the pupil's home (the overdue ladder's step)."""

    CONTACT_MADE_NO_CONCERN = "contact_made_no_concern"
    NO_CONTACT = "no_contact"
    CONCERN = "concern"


CALL_HOME_WORDS: dict[CallHomeOutcome, str] = {
    CallHomeOutcome.CONTACT_MADE_NO_CONCERN: "reached the home and found no cause for concern",
    CallHomeOutcome.NO_CONTACT: "could not make contact with the home",
    CallHomeOutcome.CONCERN: "reported a cause for concern",
}


def call_home_outcome(value: object) -> CallHomeOutcome:
    try:
        return CallHomeOutcome(str(value))
    except ValueError:
        raise DomainError(
            f"outcome must be one of: {', '.join(CallHomeOutcome)} (what happened when "
            "reception rang the pupil's home)"
        ) from None


EVENING_FROM = time(18, 0)
_PUPIL_REF = re.compile(r"^(?=.*\d)[A-Za-z0-9_/-]{3,32}$")


# -- rules a sentence long -------------------------------------------------------


def pupil_ref_problem(ref: str) -> str | None:
    """Events carry an opaque pupil reference (like UPN-0042), never a pupil's name."""
    if _PUPIL_REF.match(ref):
        return None
    return (
        f"pupil reference {ref!r} must be the school's opaque reference (3-32 letters, digits,"
        " '-', '_' or '/', with at least one digit), never the pupil's name"
    )


def check_plan(
    *,
    visitors: list[str],
    pupil_ref: str,
    address: str,
    purpose: str,
    times: tuple[datetime, datetime, datetime],
    mobile: str,
    safe_word_hash: str | None,
) -> None:
    """A plan the policies accept, or a DomainError saying what to change: one visitor or a
    pair, the pupil's opaque reference, an address, a listed purpose, planned start before
    the expected leaving before (or at) the expected return, a mobile, a safe word."""
    if not 1 <= len(visitors) <= 2:
        raise DomainError("a visit is made by one staff member (lone) or two (a pair)")
    problem = pupil_ref_problem(pupil_ref)
    if problem:
        raise DomainError(problem)
    if not address.strip():
        raise DomainError("give the address being visited")
    try:
        Purpose(purpose)
    except ValueError:
        raise DomainError(f"purpose must be one of: {', '.join(Purpose)}") from None
    planned_start, expected_leave, expected_return = times
    if not planned_start < expected_leave <= expected_return:
        raise DomainError(
            "times must run planned start < expected time of leaving the property"
            " <= expected return"
        )
    if (problem := phone_problem(mobile, "mobile")) is not None:
        raise DomainError(problem)
    if not safe_word_hash:
        raise DomainError("the visit needs a safe word: set one here or in the directory")


def risk_problem(hazards: list[dict[str, Any]]) -> str | None:
    """All home visits are risk assessed before they are authorised, and visits which place
    staff at risk (a hazard rated high) are not allowed."""
    if not hazards:
        return (
            "all home visits must be risk assessed before they are authorised: "
            "record the risk assessment first"
        )
    high = [h["hazard"] for h in hazards if h["risk"] == RiskLevel.HIGH]
    if high:
        return (
            f"the risk assessment rates {', '.join(high)} high: visits which place staff "
            "at risk are not allowed; add controls and reassess"
        )
    return None


def can_authorise(
    principal: Principal, school: str, roles: tuple[Role, ...] = (Role.HEADTEACHER, Role.DSL)
) -> str | None:
    """Home visits are authorised by those the school's policy names (by default the
    headteacher or the DSL) of that school."""
    who = roles_words(roles)
    if principal.role not in roles:
        return f"a {principal.role.value} cannot authorise home visits at this school: ask {who}"
    if principal.school != school:
        return f"only {who} of the visit's own school can authorise it"
    return None


def needs_headteacher(
    start: datetime, end: datetime, *, working_hours: str, timezone: str
) -> str | None:
    """Why a headteacher must expressly approve this visit, or None.

    A visit outside the school's working hours (or on a weekend), or in the evening
    (from 18:00), needs the headteacher's express agreement.
    """
    zone = ZoneInfo(timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    opens_text, _, closes_text = working_hours.partition("-")
    opens, closes = time.fromisoformat(opens_text), time.fromisoformat(closes_text)
    if local_start.date() != local_end.date() or local_start.weekday() >= 5:
        return "it is not within one working day"
    if local_end.time() > EVENING_FROM:
        return "it is an evening visit"
    if local_start.time() < opens or local_end.time() > closes:
        return f"it falls outside the school's working hours ({working_hours})"
    return None


def device_problem(
    *,
    device: str | None,
    last_seen: datetime | None,
    battery: int | None,
    now: datetime,
    offline_after: timedelta,
    low_battery_below: int,
) -> str | None:
    """A lone visitor takes an SOS device that is operational: seen within the heartbeat
    window and above the low-battery threshold (a device that never reports battery passes
    on being seen)."""
    if device is None:
        return (
            "a lone visit needs an SOS device assigned to the visitor: collect one from reception"
        )
    if last_seen is None or now - last_seen > offline_after:
        return (
            f"SOS device {device} has not been heard from in the last "
            f"{int(offline_after.total_seconds())}s: switch it on and check it in before leaving"
        )
    if battery is not None and battery < low_battery_below:
        return f"SOS device {device} battery is {battery}% (below {low_battery_below}%): charge or swap it"
    return None


@dataclass(frozen=True)
class DeviceCheck:
    """The device a lone visitor takes, as last heard from (evidence recorded at departure)."""

    device: str | None
    last_seen: datetime | None
    battery: int | None


LOW_BATTERY_BELOW = 20
"""The threshold when a school's policy names none (`low_battery_below`)."""


def hazard_rows(hazards: list[dict[str, Any]], purpose: Purpose) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[Hazard] = set()
    for i, raw in enumerate(hazards):
        where = f"hazards[{i}]"
        try:
            hazard = Hazard(str(raw.get("hazard")))
            likelihood = Likelihood(str(raw.get("likelihood")))
            severity = HarmSeverity(str(raw.get("severity")))
            risk = RiskLevel(str(raw.get("risk")))
        except ValueError as exc:
            raise DomainError(
                f"{where}: {exc}; hazards are {', '.join(Hazard)}, likelihood "
                f"{'/'.join(Likelihood)}, severity {'/'.join(HarmSeverity)}, risk {'/'.join(RiskLevel)}"
            ) from None
        controls = [str(c).strip() for c in raw.get("controls") or [] if str(c).strip()]
        if not controls:
            raise DomainError(f"{where} ({hazard.value}): list the controls that reduce the risk")
        if hazard in seen:
            raise DomainError(f"{where}: {hazard.value} is assessed twice")
        seen.add(hazard)
        rows.append(
            {
                "hazard": hazard.value,
                "likelihood": likelihood.value,
                "severity": severity.value,
                "risk": risk.value,
                "controls": controls,
            }
        )
    needed = set(ALWAYS_ASSESSED)
    if purpose is Purpose.TRANSPORT_PUPIL:
        needed.add(Hazard.TRANSPORTING_PUPIL)
    missing = [h.value for h in Hazard if h in needed - seen]
    if missing:
        raise DomainError(f"the risk assessment must also assess: {', '.join(missing)}")
    return rows
