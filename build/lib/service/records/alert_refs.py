"""An alert as a person names it: the six-letter code from a text or the console, or its id.

People read out, text back and type the short code (`ACK 72EBB3`, `lonewatch replay --alert
72EBB3`); tools paste the full id. Both name the same alert, so every place a person types
an alert resolves it here, and a code that matches nothing, or more than one alert, is
refused with words that say what to do.
"""

from __future__ import annotations

import re
from uuid import UUID

from projections.store import ViewStore
from service.domain.errors import DomainError, NotFound

_CODE = re.compile(r"[0-9a-f]{6}")


class AmbiguousAlert(DomainError):
    """A short code shared by more than one alert (one in 16.7 million per pair)."""


def resolve_alert(views: ViewStore, reference: str) -> UUID:
    """The id of the alert `reference` names: a full id, or a short code in any case, with
    or without the spaces and dashes people put in when reading it out (`72 EB B3`)."""
    text = reference.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    code = re.sub(r"[\s-]", "", text).lower()
    if not _CODE.fullmatch(code):
        raise NotFound(
            f"{reference!r} is not an alert code: give the six letters and digits from the "
            "text or the console (e.g. 72EBB3), or the alert's full id"
        )
    matches = views.with_id_prefix("alert", code, limit=5)
    if not matches:
        raise NotFound(f"no alert has the code {code.upper()}")
    if len(matches) > 1:
        ids = ", ".join(str(doc["id"]) for doc in matches)
        raise AmbiguousAlert(
            f"more than one alert has the code {code.upper()}: give the full id ({ids})"
        )
    return UUID(str(matches[0]["id"]))
