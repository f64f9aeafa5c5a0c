"""`record_words` says the record a finding names as the batch's file numbers its records: an XML or JSON record is
numbered by its position (DOMAIN.md §7), so RV020's `Line 2 of this batch` is `Record 2 of this batch` there, and WV002's
`from this line` is `from this record`; a CSV record's number is its line. `finding_in_file_words` also names fields
as the file does (`in_file_words`). Both are shared by every place that shows a finding (ingest's views, the portal,
`lrs`), and saying a message twice changes nothing."""

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats.limits import finding_in_file_words, record_words
from lrs_domain.rules import not_ordered_by_uln

DUPLICATE = "Line 2 of this batch already addresses this achievement (qualification 500/0002/0, award date 2021-06-30)"


@pytest.mark.parametrize("fmt", [BatchFormat.XML, BatchFormat.JSON])
def test_an_xml_or_json_batch_names_its_records_by_number(fmt: BatchFormat) -> None:
    assert record_words(DUPLICATE, fmt) == DUPLICATE.replace("Line 2", "Record 2")


@pytest.mark.parametrize("fmt", [BatchFormat.XML, BatchFormat.JSON])
def test_the_uln_order_warning_starts_from_a_record_in_an_xml_or_json_batch(fmt: BatchFormat) -> None:
    warning = not_ordered_by_uln().message

    assert "from this line" in warning
    assert record_words(warning, fmt) == warning.replace("from this line", "from this record")
    assert record_words(warning, BatchFormat.CSV) == warning


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, None])
def test_a_csv_batch_names_its_records_by_line(fmt: BatchFormat | None) -> None:
    assert record_words(DUPLICATE, fmt) == DUPLICATE


def test_what_a_message_quotes_from_the_file_is_kept() -> None:
    text = "MISIdentifier 'Line 3 of this batch' repeats Line 3 of this batch"
    assert record_words(text, BatchFormat.XML) == "MISIdentifier 'Line 3 of this batch' repeats Record 3 of this batch"


@pytest.mark.parametrize(
    ("fmt", "said"),
    [
        (BatchFormat.JSON, "Record 2 of this batch has the same givenName"),
        (BatchFormat.XML, "Record 2 of this batch has the same GivenName"),
        (BatchFormat.CSV, "Line 2 of this batch has the same GivenName"),
    ],
)
def test_a_finding_is_said_in_its_files_words_once_or_twice(fmt: BatchFormat, said: str) -> None:
    text = "Line 2 of this batch has the same GivenName"
    assert finding_in_file_words(text, fmt) == said
    assert finding_in_file_words(said, fmt) == said
