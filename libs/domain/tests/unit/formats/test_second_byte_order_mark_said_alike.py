"""A file saved with two UTF-8 byte order marks (a program that adds one to a file that has one) is told so in the
same words whatever its format: not Python's "decode using utf-8-sig" (JSON) nor "not well-formed (invalid token)"
(XML); and its format is still told from its first bytes, so that its parser, not "not recognisable", says it."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    HEADER,
    csv_document,
    json_document,
    records,
    xml_document,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, detect_format, parse_batch

BOM = b"\xef\xbb\xbf"
SECOND_MARK = "the file starts with a second byte order mark (an invisible character): save it as UTF-8 once"
DOCUMENTS = {
    BatchFormat.CSV: csv_document(HEADER, records(2)),
    BatchFormat.XML: xml_document(HEADER, records(2)),
    BatchFormat.JSON: json_document(HEADER, records(2)),
}


@pytest.mark.parametrize("fmt", list(BatchFormat))
@pytest.mark.parametrize("marks", [2, 3])
def test_a_file_that_starts_with_a_second_byte_order_mark_is_told_so_in_every_format(
    fmt: BatchFormat, marks: int
) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(BOM * marks + DOCUMENTS[fmt], fmt)

    assert (refused.value.code, refused.value.line, refused.value.column) == (BatchCode.MALFORMED, 1, 1)
    assert refused.value.detail == SECOND_MARK


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_one_byte_order_mark_is_still_read_as_none(fmt: BatchFormat) -> None:
    assert len(parse_batch(BOM + DOCUMENTS[fmt], fmt).records) == 2


@pytest.mark.parametrize("fmt", list(BatchFormat))
@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain"])
def test_the_format_of_a_file_with_two_byte_order_marks_is_told_from_its_first_bytes(
    fmt: BatchFormat, content_type: str | None
) -> None:
    assert detect_format(content_type, None, (BOM * 2 + DOCUMENTS[fmt])[:512]) is fmt


def test_the_format_after_any_number_of_byte_order_marks_is_told() -> None:
    assert detect_format(None, None, (BOM * 150 + DOCUMENTS[BatchFormat.JSON])[:512]) is BatchFormat.JSON
    assert detect_format(None, None, BOM * 170) is None


def test_a_byte_order_mark_after_the_xml_declaration_is_said_to_be_one() -> None:
    content = DOCUMENTS[BatchFormat.XML].replace(b"?>", b"?>" + BOM, 1)

    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, BatchFormat.XML)

    assert (refused.value.code, refused.value.line, refused.value.column) == (BatchCode.MALFORMED, 1, 39)
    assert refused.value.detail == (
        "malformed XML: an invisible byte order mark (U+FEFF) stands here, and XML allows one only as the file's"
        " first character: delete it"
    )
