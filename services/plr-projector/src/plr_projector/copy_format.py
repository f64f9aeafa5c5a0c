"""Rows in PostgreSQL's binary COPY format, encoded a column at a time (decision 0102).

asyncpg's `copy_records_to_table` encodes every value of every row on its own (a date or a time by
Python arithmetic each time). A poll's rows repeat most of their values (the AO, the catalogue facts,
the batch's dates, grades, statuses), so a column's distinct values are encoded once per call and
the others are looked up; the few columns that differ on every row (ULNs, ids) are encoded as they
come, a column at a time in C where the type allows. The encoded texts, dates, times and ids are
kept from one call to the next (a bounded number): the next poll repeats the catalogue's titles and
the award dates. The bytes are the ones asyncpg sends for the same rows.
"""

from __future__ import annotations

import operator
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import chain, repeat
from typing import Any

Encoder = Callable[[Any], bytes]

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_POSTGRES_EPOCH_DAY = date(2000, 1, 1).toordinal()
_LENGTH = struct.Struct(">i")
_INT4 = struct.Struct(">ii")
_INT2 = struct.Struct(">ih")
_INT8 = struct.Struct(">iq")
_TRUE = b"\x00\x00\x00\x01\x01"
_FALSE = b"\x00\x00\x00\x01\x00"
_UUID_LENGTH = b"\x00\x00\x00\x10"


def _text(value: str) -> bytes:
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _date(value: date) -> bytes:
    return _INT4.pack(4, value.toordinal() - _POSTGRES_EPOCH_DAY)


def _timestamptz(value: datetime) -> bytes:
    delta = value - _POSTGRES_EPOCH  # a naive time fails here: it is no instant
    return _INT8.pack(8, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _uuid(value: uuid.UUID) -> bytes:
    return _UUID_LENGTH + value.bytes


def _boolean(value: bool) -> bytes:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    raise TypeError(f"a boolean was expected, not {type(value).__name__}")


def _integer(value: int) -> bytes:
    return _INT4.pack(4, value)


def _smallint(value: int) -> bytes:
    return _INT2.pack(2, value)


_ENCODERS: dict[str, Encoder] = {
    "text": _text,
    "date": _date,
    "timestamptz": _timestamptz,
    "uuid": _uuid,
    "boolean": _boolean,
    "integer": _integer,
    "smallint": _smallint,
}


def _nullable(encode: Encoder) -> Encoder:
    def encoded(value: Any) -> bytes:
        return _NULL if value is None else encode(value)

    return encoded


class _Distinct(dict[Any, bytes]):
    """One column's encoded values, each distinct value encoded once."""

    __slots__ = ("_encode",)

    def __init__(self, encode: Encoder) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, value: Any) -> bytes:
        data = self[value] = _NULL if value is None else self._encode(value)
        return data


def _texts(values: Sequence[Any]) -> list[bytes]:
    data = list(map(str.encode, values))
    return list(map(bytes.__add__, map(_LENGTH.pack, map(len, data)), data))


def _uuids(values: Sequence[Any]) -> list[bytes]:
    return list(map(_UUID_LENGTH.__add__, map(_BYTES, values)))


def _integers(values: Sequence[Any]) -> list[bytes]:
    return list(map(_INT4.pack, repeat(4), values))


_BYTES = operator.attrgetter("bytes")
# A column of these types encoded in C, without a Python call per value; a NULL (or a value of
# another type) fails it, and the column is then encoded value by value.
_COLUMNS: dict[str, Callable[[Sequence[Any]], list[bytes]]] = {"text": _texts, "uuid": _uuids, "integer": _integers}
# Types whose equal values have the same bytes whatever their Python type: their encoded values are
# kept between calls. (An integer column would take a True for a 1 that was kept.)
_KEPT = {"text", "date", "timestamptz", "uuid"}
KEPT_VALUES = 4096  # a column's at the most: the whole catalogue's titles, a decade of dates


class CopyFormat:
    """How to encode rows whose values are in the order of `columns` ((name, type) pairs); the column
    names in `distinct_on_each_row` are encoded as they come, the others once per distinct value."""

    def __init__(self, columns: Sequence[tuple[str, str]], distinct_on_each_row: Iterable[str] = ()) -> None:
        unique = set(distinct_on_each_row)
        self.columns = tuple(name for name, _ in columns)
        self._kinds = tuple(
            (_ENCODERS[kind], _COLUMNS.get(kind) if name in unique else None, name in unique, kind in _KEPT)
            for name, kind in columns
        )
        self._kept = [_Distinct(_ENCODERS[kind]) for _, kind in columns]
        self._field_count = _INT2.pack(2, len(columns))[4:]

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """The whole COPY stream (header, rows, trailer) of `rows`."""
        if not rows:
            return _HEADER + _TRAILER
        encoded: list[list[bytes]] = []
        for (encode, column, unique, kept), distinct, values in zip(
            self._kinds, self._kept, zip(*rows, strict=True), strict=True
        ):
            if unique:
                encoded.append(self._each(encode, column, values))
                continue
            if not kept or len(distinct) > KEPT_VALUES:
                distinct.clear()
            encoded.append(list(map(distinct.__getitem__, values)))
        rows_encoded = map(b"".join, zip(repeat(self._field_count), *encoded, strict=False))  # the count repeats
        return b"".join(chain((_HEADER,), rows_encoded, (_TRAILER,)))

    @staticmethod
    def _each(
        encode: Encoder, column: Callable[[Sequence[Any]], list[bytes]] | None, values: Sequence[Any]
    ) -> list[bytes]:
        if column is not None:
            try:
                return column(values)
            except (TypeError, AttributeError, struct.error):
                pass  # a NULL, or a value of another type: each value encoded on its own says which
        return list(map(_nullable(encode), values))
