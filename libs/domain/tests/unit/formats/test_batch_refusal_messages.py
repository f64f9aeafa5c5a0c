"""What a refused file's message says back of the file, in every format: short quotes, the heading that differs,
the job type's exact spelling, mixed job types, and encodings, quotes and numbers named in the file's words."""

import json

import pytest
from libs.domain.tests.unit.formats.batch_documents import (
    CSV_HEADER_NAMES_ROW,
    CSV_RECORD_HEADINGS_ROW,
    HEADER,
    document,
    records,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

ALL_FORMATS = list(BatchFormat)
HEADER_VALUES_ROW = "1.0,RN5133,Final,results@example.org,JUNE-2024-01,2024-08-22"
RECORD_ROW = "Create,CAND-1,1000000043,Alex,Smith,2006-04-01,1,601/4491/X,,2024-08-22,Pass,10001234,English,"
JSON_HEADER = '"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"'
XML_HEADER_VALUES = (
    "<AwardingOrganisation>RN5133</AwardingOrganisation><NotificationEmail>results@example.org</NotificationEmail>"
)
LONG = "X" * 3_000_000  # twice in a file, and a file is at most 6 MB
# a quote of the file is at most 60 characters and an ellipsis; the rest of a message is the LRS's own words
LONGEST_MESSAGE_AROUND_A_QUOTE = 400


def _refusal(fmt: BatchFormat, content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, fmt)
    return refused.value


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _xml(header_values: str = XML_HEADER_VALUES, records_xml: str = "<Record><ULN>1000000043</ULN></Record>") -> bytes:
    return f"<AchievementBatch><Header>{header_values}</Header><Records>{records_xml}</Records></AchievementBatch>".encode()


def _json(header_values: str = JSON_HEADER, records_json: str = '{"uln": "1000000043"}', more: str = "") -> bytes:
    return f'{{"header": {{{header_values}}}, "records": [{records_json}]{more}}}'.encode()


# --- every piece of the file said back is cut short ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (BatchFormat.CSV, _csv(LONG + CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, RECORD_ROW)),
        (BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, LONG + CSV_RECORD_HEADINGS_ROW, RECORD_ROW)),
        (BatchFormat.CSV, _csv("sep=;" + LONG, CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW)),
        (BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW + "," + LONG, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW)),
        (BatchFormat.XML, _xml(header_values=f"<{LONG}>1</{LONG}>")),
        (BatchFormat.XML, _xml(records_xml=f"<{LONG}/>")),
        (BatchFormat.XML, _xml(records_xml=LONG)),
        (BatchFormat.XML, f"<{LONG}/>".encode()),
        (BatchFormat.XML, f'<AchievementBatch xmlns="urn:{LONG}"/>'.encode()),
        (BatchFormat.XML, f'<?xml version="1.0" encoding="{LONG}"?><AchievementBatch/>'.encode()),
        (BatchFormat.JSON, _json(more=f', "{LONG}": 1')),
        (BatchFormat.JSON, _json(records_json=f'{{"{LONG}": 1, "{LONG}": 2}}')),
    ],
    ids=[
        "csv-first-heading",
        "csv-record-heading",
        "csv-separator-line",
        "csv-extra-heading",
        "xml-header-element",
        "xml-record-element",
        "xml-stray-text",
        "xml-root-element",
        "xml-namespace",
        "xml-encoding",
        "json-top-level-key",
        "json-repeated-key",
    ],
)
def test_a_refusal_says_back_at_most_60_characters_of_any_piece_of_the_file(fmt: BatchFormat, content: bytes) -> None:
    refusal = _refusal(fmt, content)

    assert refusal.code is BatchCode.MALFORMED
    assert len(refusal.detail) < LONGEST_MESSAGE_AROUND_A_QUOTE, refusal.detail[:LONGEST_MESSAGE_AROUND_A_QUOTE]
    assert "XXX…" in refusal.detail


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("attribute", ["job_type", "results_issued_date"])
def test_a_long_header_value_said_back_is_cut_short(fmt: BatchFormat, attribute: str) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, attribute: "Y" * 1_000}, records(1)))

    assert len(refusal.detail) < LONGEST_MESSAGE_AROUND_A_QUOTE
    assert "'" + "Y" * 60 + "…'" in refusal.detail


# --- a CSV heading missing, added or misplaced is named ----------------------------------------------------------


@pytest.mark.parametrize(
    ("headings", "difference"),
    [
        (CSV_RECORD_HEADINGS_ROW.replace("Pathway,", ""), "has 13 fields; 14 are expected: 'Pathway' is missing"),
        (
            CSV_RECORD_HEADINGS_ROW.replace("Pathway,", "").replace("Gender,", ""),
            "has 12 fields; 14 are expected: 'Gender' and 'Pathway' are missing",
        ),
        (CSV_RECORD_HEADINGS_ROW + ",Notes", "has 15 fields; 14 are expected: 'Notes' is not a heading"),
        (
            CSV_RECORD_HEADINGS_ROW.replace("Pathway,", "").replace("ULN", "Uln"),
            "has 13 fields; 14 are expected: 'Uln' is to be 'ULN' (headings are case-sensitive), 'Pathway' is missing",
        ),
        (
            CSV_RECORD_HEADINGS_ROW.replace("Pathway,", "").replace("GivenName", "Given Name"),
            "has 13 fields; 14 are expected: 'Given Name' is to be 'GivenName' (without spaces), 'Pathway' is missing",
        ),
        (
            CSV_RECORD_HEADINGS_ROW.replace("Grade", "Grade,Grade"),
            "has 15 fields; 14 are expected: 'Grade' is there twice",
        ),
    ],
    ids=["one-missing", "two-missing", "one-more", "missing-and-case", "missing-and-spaces", "twice"],
)
def test_a_headings_row_of_too_few_or_too_many_fields_names_the_headings_that_differ(
    headings: str, difference: str
) -> None:
    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, headings, RECORD_ROW))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 3)
    assert refusal.detail == (
        f"the record headings row {difference}; the record headings are, in this order, {CSV_RECORD_HEADINGS_ROW}"
    )


def test_a_row_of_values_where_the_headings_belong_is_never_said_back() -> None:
    """A refusal's detail is kept with the batch for good: a record's values, a learner's ULN and names among them,
    are not quoted (a review found the ULN said back)."""
    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, RECORD_ROW + ",x", RECORD_ROW))

    assert refusal.detail.startswith(
        "the record headings row has 15 fields; 14 are expected: 'Action', 'MISIdentifier', 'ULN', 'GivenName',"
    )
    assert "are missing, most of its fields are not headings: it looks like a record's row where the headings" in (
        refusal.detail
    )
    assert not any(value in refusal.detail for value in ("1000000043", "Smith", "CAND-1", "Create"))


@pytest.mark.parametrize(
    "first_row",
    [CSV_RECORD_HEADINGS_ROW, CSV_RECORD_HEADINGS_ROW.replace("Pathway,", ""), CSV_RECORD_HEADINGS_ROW.lower()],
)
def test_a_file_that_starts_at_the_record_headings_is_told_its_two_header_lines_are_missing(first_row: str) -> None:
    refusal = _refusal(BatchFormat.CSV, _csv(first_row, RECORD_ROW))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail == (
        "the file starts with the record headings, and its two header lines are missing: line 1 holds the header"
        f" names ({CSV_HEADER_NAMES_ROW}), line 2 their values, and the record headings come third"
    )


# --- JSON: a key in the wrong case is named as found ---------------------------------------------------------------


def test_a_json_key_in_the_wrong_case_is_named_as_found_with_the_key_expected() -> None:
    refusal = _refusal(BatchFormat.JSON, _json(records_json='{"ULN": "1000000043"}'))

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail == "record 1 has the field 'ULN': field names are case-sensitive, so write 'uln'"


# --- job types ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    ("job_type", "spelling"),
    [("final", " (exact spelling: 'Final')"), ("PROVISIONAL", " (exact spelling: 'Provisional')"), ("Interim", "")],
)
def test_a_job_type_in_the_wrong_case_is_told_its_exact_spelling(
    fmt: BatchFormat, job_type: str, spelling: str
) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, "job_type": job_type}, records(1)))

    assert refusal.code is BatchCode.BAD_JOB_TYPE
    assert refusal.detail == f"job type {job_type!r} is not Provisional or Final{spelling}"


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (BatchFormat.XML, _xml(XML_HEADER_VALUES + "<JobType>Final</JobType><JobType>Provisional</JobType>")),
        (BatchFormat.JSON, _json(JSON_HEADER + ', "jobType": "Final", "jobType": "Provisional"')),
    ],
)
def test_a_header_with_two_job_types_is_rs004_mixed_job_types(fmt: BatchFormat, content: bytes) -> None:
    refusal = _refusal(fmt, content)

    assert refusal.code is BatchCode.BAD_JOB_TYPE
    assert refusal.detail == (
        "the header gives the job type twice ('Final' and 'Provisional'): a batch has one job type, Provisional or"
        " Final"
    )


def test_the_second_job_type_of_an_xml_header_is_where_it_is_refused() -> None:
    refusal = _refusal(BatchFormat.XML, _xml("<JobType>Final</JobType>\n<JobType/>" + XML_HEADER_VALUES))

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.BAD_JOB_TYPE, 2, 1)
    assert "('Final' and an empty one)" in refusal.detail


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (
            BatchFormat.XML,
            _xml(XML_HEADER_VALUES + "<BatchReference>A</BatchReference><BatchReference>B</BatchReference>"),
        ),
        (BatchFormat.JSON, _json(JSON_HEADER + ', "batchReference": "A", "batchReference": "B"')),
        (BatchFormat.JSON, _json(records_json='{"jobType": "Final", "jobType": "Provisional"}')),
        (BatchFormat.JSON, _json(more=', "jobType": "Final", "jobType": "Provisional"')),
    ],
    ids=["xml-header", "json-header", "json-record", "json-top-level"],
)
def test_any_other_value_given_twice_is_still_malformed(fmt: BatchFormat, content: bytes) -> None:
    assert _refusal(fmt, content).code is BatchCode.MALFORMED


# --- encodings, quotes and numbers in the file's words -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    ("encoding", "named"), [("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32-le", "UTF-32")]
)
def test_a_utf16_or_utf32_file_without_a_byte_order_mark_is_named_as_such(
    fmt: BatchFormat, encoding: str, named: str
) -> None:
    content = document(fmt, HEADER, records(2)).decode().encode(encoding)

    refusal = _refusal(fmt, content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 1, 1)
    assert refusal.detail.startswith(f"the file looks like {named} without a byte order mark, not UTF-8: save ")


def test_a_zero_byte_in_a_utf8_value_is_not_taken_for_utf16() -> None:
    refusal = _refusal(BatchFormat.CSV, _csv(CSV_HEADER_NAMES_ROW, "1.0\0,RN5133,,results@example.org,,"))

    assert refusal.detail == "FileVersion holds the control character U+0000 at character 4"


def test_a_json_number_too_long_for_python_is_said_to_be_too_long() -> None:
    refusal = _refusal(BatchFormat.JSON, _json(records_json='{"uln": ' + "1" * 5_000 + "}"))

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == (
        "unreadable JSON in record 1 uln: a number of 5,000 digits is too long: the numbers of a batch (a ULN, a"
        " UKPRN) have a few digits"
    )


def test_a_long_json_number_python_reads_is_still_its_text() -> None:
    [record] = parse_batch(_json(records_json='{"uln": ' + "1" * 1_000 + "}"), BatchFormat.JSON).records

    assert record.uln == "1" * 1_000


def test_a_csv_quote_never_closed_is_named_with_the_line_of_the_row_it_opens_in() -> None:
    content = _csv(CSV_HEADER_NAMES_ROW, HEADER_VALUES_ROW, CSV_RECORD_HEADINGS_ROW, 'Create,"CAND-1,1', RECORD_ROW)

    refusal = _refusal(BatchFormat.CSV, content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 4)
    assert refusal.detail == (
        'a quoted field in the row that starts on line 4 is never closed: the file ends before its closing quote (").'
        ' A quote inside a quoted value is written twice ("")'
    )


def test_json_test_documents_are_what_they_say() -> None:
    """The hand-written JSON above is well-formed but for the keys it repeats on purpose."""
    assert json.loads(_json())["records"] == [{"uln": "1000000043"}]
