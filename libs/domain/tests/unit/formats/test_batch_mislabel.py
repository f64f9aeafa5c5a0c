"""What a batch file plainly is when its name says another format, and the name to give it: said with the refusal
by `lrs batch check` and by the portal's check, each in its own terms (`then`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats.mislabel import mislabel_hint, plainly_other_format, renamed

SAMPLES = Path(__file__).resolve().parents[5] / "samples"


@pytest.mark.parametrize(
    ("content", "fmt", "plainly"),
    [
        (b'  <?xml version="1.0"?><Batch/>', BatchFormat.CSV, BatchFormat.XML),
        (b'\xef\xbb\xbf{"header": {}}', BatchFormat.CSV, BatchFormat.JSON),  # after a byte order mark
        (b"[]", BatchFormat.XML, BatchFormat.JSON),
        ((SAMPLES / "sample-100.csv").read_bytes(), BatchFormat.JSON, BatchFormat.CSV),
        ((SAMPLES / "sample-100.xml").read_bytes(), BatchFormat.JSON, BatchFormat.XML),
        (b"<Batch/>", BatchFormat.XML, None),  # what it is named
        (b"not, any, format", BatchFormat.JSON, None),  # no CSV heading line: not plainly CSV
        (b"", BatchFormat.CSV, None),
    ],
)
def test_the_format_a_file_plainly_is_when_it_is_not_the_one_it_was_read_as(
    content: bytes, fmt: BatchFormat, plainly: BatchFormat | None
) -> None:
    assert plainly_other_format(content, fmt) is plainly


@pytest.mark.parametrize(
    ("name", "fmt", "to"),
    [
        ("results.json", BatchFormat.CSV, "results.csv"),
        ("json-as.csv", BatchFormat.JSON, "json-as.json"),
        ("june.results.csv", BatchFormat.XML, "june.results.xml"),  # only the last extension
        ("results", BatchFormat.XML, "results.xml"),
    ],
)
def test_the_name_to_give_it(name: str, fmt: BatchFormat, to: str) -> None:
    assert renamed(name, fmt) == to


def test_the_hint_names_the_file_what_it_is_and_its_new_name_then_the_tools_own_words() -> None:
    assert mislabel_hint("json-as.csv", BatchFormat.JSON) == "json-as.csv looks like JSON: rename it to json-as.json"
    assert mislabel_hint("a.json", BatchFormat.XML, " and upload it again").endswith(
        "rename it to a.xml and upload it again"
    )
