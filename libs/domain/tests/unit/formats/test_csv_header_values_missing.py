"""A CSV whose header values row (line 2) is empty or left out is told so at line 2, not that its record headings
have "a comma too many" at line 3; and one that ends after its header (no record headings, no records) has no
records, RS006, as an XML or JSON file of a header alone has (DOMAIN.md §7)."""

from __future__ import annotations

import json

import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    CSV_HEADER_NAMES_ROW,
    CSV_RECORD_HEADINGS_ROW,
    HEADER,
    json_object,
    xml_document,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"
HEADER_VALUES_MISSING = (
    "line 2, the header values, is empty or missing: under the header names write their values"
    " (AwardingOrganisation and NotificationEmail at least); the record headings come after them"
)


def _refusal(*lines: str) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(("\r\n".join(lines) + "\r\n").encode(), BatchFormat.CSV)
    return refused.value


@pytest.mark.parametrize(
    "values_row",
    [",,,,,", " , , , , , ", "", ",,,,,,,,,,,,,"],
    ids=["commas", "commas-and-spaces", "blank", "padded-by-a-spreadsheet"],
)
def test_an_empty_header_values_row_is_said_to_be_empty_at_line_2(values_row: str) -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, values_row, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, 2, HEADER_VALUES_MISSING)


def test_a_missing_header_values_row_is_said_to_be_missing_at_line_2() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, 2, HEADER_VALUES_MISSING)


def test_the_line_said_is_the_one_after_the_header_names_wherever_they_are() -> None:
    refusal = _refusal("", "", CSV_HEADER_NAMES_ROW, ",,,,,", CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert refusal.line == 4
    assert refusal.detail.startswith("line 4, the header values, is empty or missing")


def test_a_header_values_row_with_a_comma_too_many_is_still_said_to_have_one() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW + ",x", CSV_RECORD_HEADINGS_ROW, RECORD_ROW)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 2)
    assert refusal.detail.startswith("the header values row has 7 fields; 6 are expected")


@pytest.mark.parametrize("after", [(), ("",), ("", " , ,")], ids=["at-the-end", "blank-line", "empty-rows"])
def test_a_csv_that_ends_after_its_header_has_no_records_rs006(after: tuple[str, ...]) -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, *after)

    assert (refusal.code, refusal.detail) == (BatchCode.NO_RECORDS, "the file has a header but no records")
    assert refusal.batch_reference == "JUNE-2024-01"


def test_a_header_alone_is_rs006_in_every_format() -> None:
    alone = {
        BatchFormat.CSV: f"{CSV_HEADER_NAMES_ROW}\n{HEADER_VALUES_ROW}\n".encode(),
        BatchFormat.XML: xml_document(HEADER, []).replace(b"<Records>\n  </Records>", b""),
        BatchFormat.JSON: json.dumps({"header": json_object(HEADER, [])["header"]}).encode(),
    }
    codes = set()
    for fmt, content in alone.items():
        with pytest.raises(BatchRefused) as refused:
            parse_batch(content, fmt)
        codes.add(refused.value.code)

    assert codes == {BatchCode.NO_RECORDS}


def test_record_headings_that_are_wrong_are_still_rs001() -> None:
    refusal = _refusal(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW.replace("ULN", "Uln"))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 3)
