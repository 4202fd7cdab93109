"""Stored events decoded for a rebuild: the library mapper's very objects, made faster.

The mapper (`Mapper.to_domain_event`) parses each event's JSON with an object hook (a
Python call per dictionary), after copying the row into a frozen `StoredEvent` twice
(once more to strip the seal): ~6 µs an event, a third of a rebuild. Here the JSON is
parsed by msgspec (C, no hook) and only the values the library had transcoded
(`{"_type_": ..., "_data_": ...}`: datetimes, UUIDs, decimals) are turned back into
objects, by the library's own transcodings; the event is then made exactly as the mapper
makes it (same class, same `__dict__`, same upcasting). Anything unusual (a cipher, a
compressor, another transcoder, JSON that msgspec reads differently from the standard
library: NaN, lone surrogates, numbers out of range) goes the mapper's way, so an event
decodes here to what the mapper gives, or raises what the mapper raises.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

from service.adapters.event_rows import EventRow
from service.adapters.sealing import HEADER_BYTES, MAGIC, SealingMapper

_TYPE = b'"_type_"'
"""How a transcoded value's key reads in the stored bytes: inside a JSON string a quote is
escaped, so every occurrence is a key (or a whole string value `"_type_"`)."""


@dataclass
class _Topic:
    cls: type[Any]
    class_version: int
    convert: Callable[[Any], Any]
    id_type: type[Any]
    keys: list[str] = field(default_factory=list)
    """Top-level keys seen holding a transcoded value (`timestamp`, `device_ts`...)."""


class RowDecoder:
    """`decoder(row)` is `mapper.to_domain_event(the stored event of row)`, faster."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self._fast = (
            type(transcoder) is JSONTranscoder and mapper.cipher is None and not mapper.compressor
        )
        self._sealed = isinstance(mapper, SealingMapper)
        self._names = transcoder.names if isinstance(transcoder, JSONTranscoder) else {}
        self._parse = msgspec.json.Decoder().decode
        self._topics: dict[str, _Topic] = {}

    def __call__(self, row: EventRow) -> Any:
        _, originator_id, version, topic, state = row
        if self._fast:
            try:
                return self._decode(originator_id, version, topic, state)
            except Exception:  # the mapper decodes it, or says why not
                return self.mapper.to_domain_event(
                    StoredEvent(originator_id, version, topic, state)
                )
        return self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, state))

    def _decode(self, originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        info = self._topics.get(topic)
        if info is None or info.id_type is not type(originator_id):
            info = self._learn(topic, type(originator_id), info)
        body = bytes(state)  # the same object when it is bytes already
        if self._sealed and body[:4] == MAGIC and len(body) >= HEADER_BYTES:
            body = body[HEADER_BYTES:]  # as `split` does
        # The decoded state, every transcoded value made an object again.
        expected = body.count(_TYPE)
        event_state = self._parse(body)
        if type(event_state) is not dict:
            raise TypeError("an event's state is a JSON object")
        if expected:
            found = 0
            for key in info.keys:  # where this kind of event keeps them: no walk needed
                value = event_state.get(key)
                if type(value) is dict and _transcoded(value):
                    event_state[key] = self._names[value["_type_"]].decode(value["_data_"])
                    found += 1
            if found != expected:
                event_state = self._walked(body, info)
        event_state["originator_id"] = info.convert(originator_id)
        event_state["originator_version"] = version
        from_version = event_state.pop("class_version", 1)
        while from_version < info.class_version:
            getattr(info.cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(info.cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event

    def _learn(self, topic: str, id_type: type[Any], known: _Topic | None) -> _Topic:
        cls = resolve_topic(topic)
        info = _Topic(
            cls,
            getattr(cls, "class_version", 1),
            find_id_convertor(cls, cast("Hashable", id_type)),
            id_type,
            known.keys if known is not None else [],
        )
        self._topics[topic] = info
        return info

    def _walked(self, body: bytes, info: _Topic) -> dict[str, Any]:
        """Transcoded values somewhere else too (or a string that reads "_type_"): the
        library's hook on every dictionary, innermost first, over a fresh parse."""
        state = self._parse(body)
        for key, value in state.items():
            if type(value) is dict and _transcoded(value) and key not in info.keys:
                info.keys.append(key)
        return cast("dict[str, Any]", self._revive(state))

    def _revive(self, value: Any) -> Any:
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
            if _transcoded(value):
                return self._names[value["_type_"]].decode(value["_data_"])
        elif type(value) is list:
            for i, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[i] = self._revive(item)
        return value


def _transcoded(value: dict[str, Any]) -> bool:
    """What the library's object hook turns into an object (`JSONTranscoder._decode_obj`)."""
    return len(value) == 2 and "_type_" in value and "_data_" in value
