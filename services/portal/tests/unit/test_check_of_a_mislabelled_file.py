"""A file whose name says one format and whose content plainly is another (JSON saved as `.csv`, XML as `.json`) is
refused by the parser of the format its name says, in that parser's words ("the header names row has 1 field",
"malformed JSON: Expecting value"), which send the person looking for a fault inside the file. The check says
besides what the file plainly is and the name to give it, as `lrs batch check` does (`lrs_domain.formats.mislabel`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from services.portal.tests.unit.test_file_check_field_names import _checked

SAMPLES = Path(__file__).resolve().parents[4] / "samples"


def _hint(page: str) -> str | None:
    found = re.search(r'<p class="govuk-body" data-mislabelled><strong>(.*?)</strong></p>', page, re.DOTALL)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("filename", "sample", "content_type", "said"),
    [
        ("json-as.csv", "rules-showcase.json", "text/csv", "json-as.csv looks like JSON: rename it to json-as.json"),
        ("xml-as.json", "sample-100.xml", "application/json", "xml-as.json looks like XML: rename it to xml-as.xml"),
        ("csv-as.xml", "sample-100.csv", "text/xml", "csv-as.xml looks like CSV: rename it to csv-as.csv"),
    ],
)
def test_a_file_named_as_another_format_than_it_plainly_is_is_told_to_be_renamed(
    filename: str, sample: str, content_type: str, said: str
) -> None:
    page = _checked(filename, (SAMPLES / sample).read_bytes(), content_type)

    assert "The whole file would be refused: RS001" in page
    hint = _hint(page)
    assert hint is not None, "the refusal says what the file plainly is"
    assert hint.startswith(said)
    assert "upload it again" in hint and "lrs" not in hint  # in the portal's terms, not the command's


@pytest.mark.parametrize(
    ("filename", "content", "content_type"),
    [
        ("broken.json", b'{"header": ', "application/json"),  # JSON named JSON, broken: its own fault
        ("notes.csv", b"not, a, batch\r\n", "text/csv"),  # plainly no format: nothing to rename it to
    ],
)
def test_a_refusal_of_a_file_that_is_what_its_name_says_has_no_such_hint(
    filename: str, content: bytes, content_type: str
) -> None:
    page = _checked(filename, content, content_type)

    assert "The whole file would be refused" in page
    assert _hint(page) is None
