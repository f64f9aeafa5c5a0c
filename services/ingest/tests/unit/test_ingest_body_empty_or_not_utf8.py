"""A body whose format nothing names (no type, application/octet-stream, text/plain) and that is UTF-16 or UTF-32 is
told so, as it is under a format's type, not that it is "not recognisable" and to change its Content-Type; one that
starts with two UTF-8 byte order marks is read as its format, whose parser says so; and an empty body is said to be
empty, whatever its type, not a puzzle of each format's parser."""

from __future__ import annotations

import pytest
from services.ingest.tests.unit.test_ingest_service import FakePublisher, FakeRepository, make, submit

from ingest.service import BatchRefusedError
from ingest.submission import resolve_format
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused

CSV = (
    "FileVersion,AwardingOrganisation,JobType,NotificationEmail,BatchReference,ResultsIssuedDate\r\n"
    "1.0,RN5133,Final,results@example.org,JUNE,\r\n"
    "Action,MISIdentifier,ULN,GivenName,FamilyName,DateOfBirth,Gender,QualificationNumber,Pathway,AwardDate,Grade,"
    "CentreUKPRN,LanguageForAssessment,Credits\r\n"
    "Create,,1000000043,Alex,Smith,,,601/4491/X,,2024-08-22,Pass,,,\r\n"
)
XML = '<?xml version="1.0" encoding="UTF-8"?>\n<AchievementBatch><Header/></AchievementBatch>\n'
JSON = '{"header": {"awardingOrganisation": "RN5133"}, "records": []}'
BOM = b"\xef\xbb\xbf"
UNLABELLED = [None, "application/octet-stream", "text/plain; charset=utf-8"]
EMPTY = "the body is empty (0 bytes): send the batch file itself as the request body"


def _refusal(content: bytes, content_type: str | None, requested: BatchFormat | None = None) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        resolve_format(requested, content_type, None, content)
    assert refused.value.code is BatchCode.MALFORMED
    return refused.value


@pytest.mark.parametrize("content_type", UNLABELLED)
@pytest.mark.parametrize("text", [CSV, XML, JSON], ids=["csv", "xml", "json"])
@pytest.mark.parametrize(
    ("encoding", "said"),
    [
        ("utf-16", "the file is UTF-16, not UTF-8: save it as UTF-8"),
        ("utf-16-be", "the file looks like UTF-16 without a byte order mark, not UTF-8: save it as UTF-8"),
        ("utf-32", "the file is UTF-32, not UTF-8: save it as UTF-8"),
    ],
)
def test_an_unlabelled_utf16_or_utf32_file_is_named_as_such(
    content_type: str | None, text: str, encoding: str, said: str
) -> None:
    refusal = _refusal(text.encode(encoding), content_type)

    assert (refusal.line, refusal.column, refusal.detail) == (1, 1, said)


@pytest.mark.parametrize("content_type", UNLABELLED)
@pytest.mark.parametrize(
    ("text", "fmt"),
    [(CSV, BatchFormat.CSV), (XML, BatchFormat.XML), (JSON, BatchFormat.JSON)],
    ids=["csv", "xml", "json"],
)
def test_an_unlabelled_file_with_two_byte_order_marks_is_read_as_its_format(
    content_type: str | None, text: str, fmt: BatchFormat
) -> None:
    assert resolve_format(None, content_type, None, BOM * 2 + text.encode()) is fmt


def test_an_unlabelled_file_of_no_format_with_two_byte_order_marks_is_told_of_the_second() -> None:
    refusal = _refusal(BOM * 2 + b"hello", "application/octet-stream")

    assert refusal.detail == (
        "the file starts with a second byte order mark (an invisible character): save it as UTF-8 once"
    )


def test_an_unlabelled_file_of_no_format_in_utf8_is_still_not_recognisable() -> None:
    assert _refusal(b"Name,Grade\r\nAlex,Pass\r\n", None).detail.startswith(
        "the file is not recognisable as CSV, XML or JSON"
    )


@pytest.mark.parametrize(
    ("content_type", "requested"),
    [
        (None, None),
        ("application/octet-stream", None),
        ("text/plain", None),
        ("text/csv", None),
        ("application/json", None),
        ("application/xml", None),
        ("image/png", None),
        (None, BatchFormat.CSV),
        ("application/json", BatchFormat.XML),
    ],
)
def test_an_empty_body_is_said_to_be_empty_whatever_it_is_labelled(
    content_type: str | None, requested: BatchFormat | None
) -> None:
    refusal = _refusal(b"", content_type, requested)

    assert (refusal.line, refusal.column, refusal.detail) == (None, None, EMPTY)


@pytest.mark.parametrize("content_type", ["application/json", "text/csv", "application/octet-stream"])
async def test_an_empty_body_submitted_is_refused_and_recorded_as_empty(content_type: str) -> None:
    repository = FakeRepository()

    with pytest.raises(BatchRefusedError) as refused:
        await submit(make(repository, FakePublisher()), b"", content_type=content_type)

    assert (refused.value.refusal.code, refused.value.refusal.detail) == (BatchCode.MALFORMED, EMPTY)
    assert [refusal.code for _, _, refusal in repository.refusals] == ["RS001"]
