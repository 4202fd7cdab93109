"""The documents a projector last committed, kept in memory so a batch reads few of them back."""

from __future__ import annotations

import enum
from collections import OrderedDict

from projections.core import Doc


class Unknown(enum.Enum):
    UNKNOWN = enum.auto()


UNKNOWN = Unknown.UNKNOWN
"""Not in the cache, nor known to be absent: read the store."""


class DocCache:
    """The documents as this projector last committed them, valid at one view position.

    Documents change only in a commit that moves the position, so while the view
    stands where this projector left it, a cached document (or its absence) is the
    stored one; when someone else moved it, everything is forgotten. At position 0
    the view is empty: a miss needs no query until something is evicted.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.position: int | None = None
        self._docs: OrderedDict[tuple[str, str], Doc | None] = OrderedDict()
        self._complete = False

    def reset(self, position: int | None) -> None:
        self._docs.clear()
        self.position = position
        self._complete = position == 0

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self._complete or key in self._docs

    def find(self, key: tuple[str, str]) -> Doc | Unknown | None:
        """`get` when the key is known (`in` the cache), else UNKNOWN: one call where a
        batch reads a document (twice per heartbeat), not two."""
        doc = self._docs.get(key, UNKNOWN)
        if doc is UNKNOWN:
            return None if self._complete else UNKNOWN
        if doc is not None:
            self._docs.move_to_end(key)
        return doc

    def get(self, key: tuple[str, str]) -> Doc | None:
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
        return doc

    def remember(self, key: tuple[str, str], doc: Doc | None) -> None:
        self._docs[key] = doc
        self._trim()

    def committed(self, position: int, docs: dict[tuple[str, str], Doc | None]) -> None:
        self.position = position
        for key, doc in docs.items():
            self._docs[key] = doc
            self._docs.move_to_end(key)
        self._trim()

    def _trim(self) -> None:
        while len(self._docs) > self.size:
            self._docs.popitem(last=False)
            self._complete = False
