import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import detect_format

CSV_START = b"FileVersion,AwardingOrganisation,JobType"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", BatchFormat.JSON),
        ("application/json; charset=utf-8", BatchFormat.JSON),
        ("Application/JSON", BatchFormat.JSON),
        ("application/vnd.lrs.batch+json", BatchFormat.JSON),
        ("application/xml", BatchFormat.XML),
        ("text/xml; charset=UTF-8", BatchFormat.XML),
        ("application/vnd.lrs.batch+xml", BatchFormat.XML),
        ("text/csv", BatchFormat.CSV),
        ("application/csv", BatchFormat.CSV),
        ("application/vnd.ms-excel", BatchFormat.CSV),
    ],
)
def test_a_specific_content_type_decides(content_type: str, expected: BatchFormat) -> None:
    assert detect_format(content_type, "batch.txt", b"<?xml") is expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("june.csv", BatchFormat.CSV),
        ("JUNE.CSV", BatchFormat.CSV),
        ("results.2024.xml", BatchFormat.XML),
        ("C:\\uploads\\batch.json", BatchFormat.JSON),
    ],
)
@pytest.mark.parametrize("content_type", [None, "", "application/octet-stream", "text/plain", "multipart/form-data"])
def test_without_a_specific_content_type_the_file_name_decides(
    filename: str, expected: BatchFormat, content_type: str | None
) -> None:
    assert detect_format(content_type, filename, b"{") is expected


@pytest.mark.parametrize(
    ("first_bytes", "expected"),
    [
        (b'<?xml version="1.0"?><AchievementBatch>', BatchFormat.XML),
        (b"\xef\xbb\xbf\r\n  <AchievementBatch>", BatchFormat.XML),
        (b'{"header": {}}', BatchFormat.JSON),
        (b"\xef\xbb\xbf\n {", BatchFormat.JSON),
        (CSV_START, BatchFormat.CSV),
        (b"\xef\xbb\xbf" + CSV_START, BatchFormat.CSV),
        (b'"FileVersion","AwardingOrganisation"', BatchFormat.CSV),
        (b"", None),
        (b"Action,ULN", None),
        (b"\x89PNG\r\n", None),
    ],
)
def test_otherwise_the_first_bytes_decide_or_nothing_does(first_bytes: bytes, expected: BatchFormat | None) -> None:
    assert detect_format("application/octet-stream", "upload", first_bytes) is expected
    assert detect_format(None, None, first_bytes) is expected
