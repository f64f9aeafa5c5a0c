"""The projector's own binary COPY encoding, value by value (the stored rows are compared with
asyncpg's in tests/integration/test_projector_copy_format.py)."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from plr_projector.copy_format import KEPT_VALUES, CopyFormat

_COLUMNS = (
    ("name", "text"),
    ("day", "date"),
    ("at", "timestamptz"),
    ("id", "uuid"),
    ("flag", "boolean"),
    ("number", "integer"),
    ("small", "smallint"),
)
_HEADER = b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"
_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _rows_of(stream: bytes) -> list[list[bytes | None]]:
    """Splits a COPY stream back into each row's values (None for NULL)."""
    assert stream.startswith(_HEADER) and stream.endswith(b"\xff\xff")
    body, rows = stream[len(_HEADER) : -2], []
    while body:
        (count,), body = struct.unpack(">h", body[:2]), body[2:]
        row: list[bytes | None] = []
        for _ in range(count):
            (length,), body = struct.unpack(">i", body[:4]), body[4:]
            row.append(None if length == -1 else body[:length])
            body = body[max(length, 0) :]
        rows.append(row)
    return rows


@pytest.mark.parametrize("unique", [(), tuple(name for name, _ in _COLUMNS)])
def test_each_type_is_encoded_as_postgresql_reads_it(unique: tuple[str, ...]) -> None:
    copy_format = CopyFormat(_COLUMNS, distinct_on_each_row=unique)
    stream = copy_format.encode(
        [
            ("é", date(2000, 1, 1), datetime(2000, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), _ID, True, -1, 7),
            (
                "",
                date(1999, 12, 31),
                datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
                _ID,
                False,
                2**31 - 1,
                -2,
            ),
            (None, None, None, None, None, None, None),
        ]
    )
    assert _rows_of(stream) == [
        [b"\xc3\xa9", b"\x00\x00\x00\x00", bytes(8), _ID.bytes, b"\x01", b"\xff\xff\xff\xff", b"\x00\x07"],
        [b"", b"\xff\xff\xff\xff", struct.pack(">q", -1), _ID.bytes, b"\x00", b"\x7f\xff\xff\xff", b"\xff\xfe"],
        [None] * 7,
    ]
    assert copy_format.columns == tuple(name for name, _ in _COLUMNS)


def test_a_repeated_value_is_encoded_the_same_in_every_row() -> None:
    at = datetime(2024, 8, 22, 8, tzinfo=UTC)
    stream = CopyFormat((("at", "timestamptz"), ("number", "integer"))).encode([(at, 1), (at, 2), (at, 1)])
    micros = struct.pack(">q", int((at - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000)
    assert _rows_of(stream) == [
        [micros, b"\x00\x00\x00\x01"],
        [micros, b"\x00\x00\x00\x02"],
        [micros, b"\x00\x00\x00\x01"],
    ]


def test_a_column_encoded_as_it_comes_has_the_bytes_of_one_encoded_per_distinct_value() -> None:
    rows = [
        (f"é{n}", date(2000, 1, 1), datetime(2000, 1, 1, tzinfo=UTC), uuid.UUID(int=n), n % 2 == 0, -n, n)
        for n in range(5)
    ]
    every = CopyFormat(_COLUMNS, distinct_on_each_row=[name for name, _ in _COLUMNS])
    assert every.encode(rows) == CopyFormat(_COLUMNS).encode(rows)
    with pytest.raises(AttributeError):
        every.encode([*rows, ("a", None, None, "not a UUID", None, None, None)])


def test_values_kept_from_earlier_calls_are_encoded_as_a_fresh_format_encodes_them() -> None:
    columns = (("name", "text"), ("day", "date"), ("at", "timestamptz"), ("id", "uuid"), ("number", "integer"))
    kept = CopyFormat(columns)
    at = datetime(2024, 8, 22, 8, tzinfo=UTC)
    earlier = [(f"t{n}", date(2000, 1, 1) + timedelta(days=n), at, uuid.UUID(int=n), n) for n in range(KEPT_VALUES + 2)]
    kept.encode(earlier)
    kept.encode(earlier[:3])
    later = [
        ("t1", date(2000, 1, 2), at.astimezone(timezone(timedelta(hours=1))), uuid.UUID(int=1), 1),
        ("t1", date(2000, 1, 2), at, uuid.UUID(int=1), True),
        (None, None, None, None, None),
        ("new", date(1999, 1, 1), at + timedelta(microseconds=1), uuid.UUID(int=7), 2),
    ]
    assert kept.encode(later) == CopyFormat(columns).encode(later)
    with pytest.raises(AttributeError):  # a text where a UUID belongs, though its text was kept
        kept.encode([("t1", None, None, "t1", None)])


def test_no_rows_is_an_empty_stream() -> None:
    assert CopyFormat(_COLUMNS).encode([]) == _HEADER + b"\xff\xff"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (("at", "timestamptz"), datetime(2024, 8, 22, 8)),  # naive: no instant
        (("flag", "boolean"), 1),
        (("name", "text"), 1),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(column: tuple[str, str], value: object) -> None:
    with pytest.raises((TypeError, AttributeError)):
        CopyFormat((column,)).encode([(value,)])


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        CopyFormat(_COLUMNS).encode([("a", date(2000, 1, 1))])
