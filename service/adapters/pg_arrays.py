"""PostgreSQL array parameters packed in its binary format here, in one pass per column.

psycopg dumps a Python list element by element through its Python-level list dumper
(`psycopg/types/array.py`): under a heartbeat flood that, with converting the query, was
most of the insert's CPU (a group of 50 events is 4 lists of 50). A column packed here is
one `bytes` value that psycopg passes through as is, tagged with its array type, so the
server receives exactly what psycopg's binary dumper would have sent.

Binary array layout (PostgreSQL `array_send`): ndim, has-nulls flag, element type oid,
then per dimension its length and lower bound (1); then each element as its length
(int32) and its bytes. No element may be None here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

_HEADER = struct.Struct(">iiiii")
_EMPTY = struct.Struct(">iii")
_LENGTH = struct.Struct(">i")
_UUID_LENGTH = _LENGTH.pack(16)
_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")


class PackedArray(bytes):
    """A whole array parameter, already in PostgreSQL's binary format."""

    element_oid: ClassVar[int]
    array_oid: ClassVar[int]

    @classmethod
    def packed(cls, count: int, body: bytes) -> PackedArray:
        if not count:
            return cls(_EMPTY.pack(0, 0, cls.element_oid))
        return cls(_HEADER.pack(1, 0, cls.element_oid, count, 1) + body)


class UuidArray(PackedArray):
    element_oid, array_oid = 2950, 2951

    @classmethod
    def of(cls, values: Sequence[UUID]) -> UuidArray:
        # `u.int.to_bytes`: what `UUID.bytes` (a Python property) returns, without its call.
        prefix = _UUID_LENGTH
        return cls.packed(  # type: ignore[return-value]
            len(values), b"".join([prefix + u.int.to_bytes(16, "big") for u in values])
        )


class Int4Array(PackedArray):
    element_oid, array_oid = 23, 1007

    @classmethod
    def of(cls, values: Sequence[int]) -> Int4Array:
        pack = _INT4.pack
        return cls.packed(len(values), b"".join([pack(4, v) for v in values]))  # type: ignore[return-value]


class Int8Array(PackedArray):
    element_oid, array_oid = 20, 1016

    @classmethod
    def of(cls, values: Sequence[int]) -> Int8Array:
        pack = _INT8.pack
        return cls.packed(len(values), b"".join([pack(8, v) for v in values]))  # type: ignore[return-value]


def _varlena(values: Sequence[bytes]) -> bytes:
    pack = _LENGTH.pack
    return b"".join([pack(len(v)) + v for v in values])


class ByteaArray(PackedArray):
    element_oid, array_oid = 17, 1001

    @classmethod
    def of(cls, values: Sequence[bytes]) -> ByteaArray:
        return cls.packed(len(values), _varlena(values))  # type: ignore[return-value]


class TextArray(PackedArray):
    element_oid, array_oid = 25, 1009

    @classmethod
    def of(cls, values: Sequence[str]) -> TextArray:
        """Texts of one length in ASCII (stream ids, as text or hex: a cold page as of an
        instant sends 5,100 of them twice) framed by one `join`: each element's length
        prefix is the same, so it is the separator (two passes in C, not two in Python
        a text: ~1.5 ms each time; docs/performance.md, asof12). Others one by one."""
        lengths = set(map(len, values))
        if len(lengths) == 1:
            (length,) = lengths
            prefix = _LENGTH.pack(length).decode("latin-1")
            framed = prefix + prefix.join(values)
            if framed.isascii():
                return cls.packed(len(values), framed.encode("ascii"))  # type: ignore[return-value]
        encoded = [v.encode("utf-8") for v in values]
        return cls.packed(len(values), _varlena(encoded))  # type: ignore[return-value]


def _register() -> None:
    for cls in (UuidArray, Int4Array, Int8Array, ByteaArray, TextArray):
        dumper = type(
            f"{cls.__name__}Dumper",
            (_PackedDumper,),
            {"oid": cls.array_oid},
        )
        psycopg.adapters.register_dumper(cls, dumper)


class _PackedDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: bytes) -> bytes:
        return obj


_register()


def execute_with_array(
    cursor: Any, statement: Any, params: Any, *, binary: bool | None = None
) -> Any:
    """Run a read whose parameter is an array of many values, never as a prepared statement.

    psycopg prepares a query the fifth time one connection runs it (`prepare_threshold`),
    and PostgreSQL, five runs later, may settle on a generic plan: one made without the
    array's values, which cannot hash `= ANY($1)` and compares every row with every
    element. On a table of 20,400 leaves whose 5,100 streams were all asked for, the read
    took 50-150 ms a run until the tenth on one connection and 2.0-3.6 s every run after
    (7 Dec 2026, load ~3, in and out of pipeline mode). The service did not fall off that
    edge in 100 cold pages on one store (its planner kept custom plans there), but whether
    it does rests on the planner's estimates for the store's own statistics. Planned for
    its array each time, the read pays only the parse a prepared one saves."""
    return cursor.execute(statement, params, prepare=False, binary=binary)
