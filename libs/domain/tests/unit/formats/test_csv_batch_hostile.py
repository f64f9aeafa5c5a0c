"""CSV as a hostile writer sends it: a headings row of millions of short fields (`ab,ab,ab,...`), which once cost
tens of seconds of the parser's single slot to refuse, because every field was paired with every missing heading
(a fuzzing review found `b"ab," * 2_000_000` refused after 13 s, and 3,000,000 fields after the header after 43 s).
The refusal says the same; the work to build it no longer grows with the fields times the headings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from libs.domain.tests.unit.formats.batch_documents import CSV_HEADER_NAMES_ROW, CSV_RECORD_HEADINGS_ROW

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, csv_batch, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"


def _all_named(row: str) -> str:
    names = [repr(name) for name in row.split(",")]
    return ", ".join(names[:-1]) + " and " + names[-1]


HEADER_NAMES = _all_named(CSV_HEADER_NAMES_ROW)
RECORD_HEADINGS = _all_named(CSV_RECORD_HEADINGS_ROW)
FIELDS = 30_000  # enough that pairing every field with every missing heading shows in the counts below
# each field that is not a heading may be compared with each missing heading (two calls): a bound for a few dozen fields
LOOSELY_CALLS_AT_MOST = 2 * 50 * len(CSV_RECORD_HEADINGS_ROW.split(","))


def _refusal(content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, BatchFormat.CSV)
    return refused.value


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Counts the calls of one of `csv_batch`'s functions, which it goes on doing."""
    calls = [0]
    real: Callable[[str], object] = getattr(csv_batch, name)

    def counting(value: str) -> object:
        calls[0] += 1
        return real(value)

    monkeypatch.setattr(csv_batch, name, counting)
    return calls


def _after_the_header(headings_row: str) -> bytes:
    return f"{CSV_HEADER_NAMES_ROW}\r\n{HEADER_VALUES_ROW}\r\n{headings_row}".encode()


@pytest.mark.parametrize(
    ("content", "line", "detail"),
    [
        (
            b"ab," * FIELDS,
            1,
            f"the header names row has {FIELDS + 1} fields; 6 are expected: {HEADER_NAMES} are missing, most of its"
            " fields are not headings: it looks like a record's row where the headings belong; the header names are,"
            f" in this order, {CSV_HEADER_NAMES_ROW}",
        ),
        (
            _after_the_header("a," * FIELDS),
            3,
            f"the record headings row has {FIELDS + 1} fields; 14 are expected: {RECORD_HEADINGS} are missing, most"
            " of its fields are not headings: it looks like a record's row where the headings belong; the record"
            f" headings are, in this order, {CSV_RECORD_HEADINGS_ROW}",
        ),
    ],
    ids=["header-names", "record-headings"],
)
def test_a_headings_row_of_many_fields_is_refused_without_pairing_each_field_with_each_missing_heading(
    monkeypatch: pytest.MonkeyPatch, content: bytes, line: int, detail: str
) -> None:
    loosely_calls = _counted(monkeypatch, "_loosely")

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, line, detail)
    assert loosely_calls[0] <= LOOSELY_CALLS_AT_MOST  # was 2 * fields * missing headings: 360,000 and 840,000


def test_a_misspelt_heading_among_a_few_dozen_other_fields_is_still_named_as_a_change() -> None:
    row = CSV_RECORD_HEADINGS_ROW.replace("ULN", "Uln") + ",x" * 40

    refusal = _refusal(_after_the_header(row))

    assert refusal.detail.startswith(
        "the record headings row has 54 fields; 14 are expected: 'Uln' is to be 'ULN' (headings are case-sensitive),"
        " most of its fields are not headings"
    )


def test_a_misspelt_heading_after_thousands_of_other_fields_is_counted_among_them() -> None:
    """Past the first few dozen fields that are not headings, none is paired with a missing heading: such a row is
    no headings row mistyped, and the refusal says its heading is missing."""
    row = "Action," + "x," * FIELDS + CSV_RECORD_HEADINGS_ROW.removeprefix("Action,").replace("ULN", "Uln")

    refusal = _refusal(_after_the_header(row))

    assert refusal.detail.startswith(
        f"the record headings row has {FIELDS + 14} fields; 14 are expected: 'ULN' is missing, most of its fields are"
        " not headings"
    )


def test_a_headings_row_repeated_many_times_names_every_heading_there_twice() -> None:
    row = ",".join([CSV_RECORD_HEADINGS_ROW] * 2_000)

    refusal = _refusal(_after_the_header(row))

    assert refusal.detail.startswith(
        f"the record headings row has 28000 fields; 14 are expected: {RECORD_HEADINGS} are there twice;"
    )


def test_a_row_of_many_empty_fields_is_looked_at_only_where_it_holds_something(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of commas is blank, and skipped; one of commas and one value is no blank row. Deciding which looks
    at the fields that hold something only (it once trimmed each of a hostile file's 6,000,000 empty fields)."""
    trimmed_calls = _counted(monkeypatch, "trimmed_value")

    refusal = _refusal(b"," * FIELDS + b"\r\n" + b"," * FIELDS + b"a")

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 2)
    assert refusal.detail.startswith(f"the header names row has {FIELDS + 1} fields; 6 are expected: {HEADER_NAMES}")
    assert trimmed_calls[0] == 1
