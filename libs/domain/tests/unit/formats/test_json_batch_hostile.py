"""Hostile JSON batches: a job type repeated inside a header's repeated job type, and files of many unknown keys or
many faults, refused in the words of any other such file without pydantic saying every fault of the file."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, JsonBatchHeader, json_batch, parse_batch

HEADER = '"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"'
JSON_HEADER: dict[str, Any] = {"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"}
RECORD_FIELDS = (
    "record {line} has no field {key!r}: its fields are action, misIdentifier, uln, givenName, familyName,"
    " dateOfBirth, gender, qualificationNumber, pathway, awardDate, grade, centreUkprn, languageForAssessment, credits"
)
HEADER_FIELDS = (
    "header has no field {key!r}: its fields are fileVersion, awardingOrganisation, jobType, notificationEmail,"
    " batchReference, resultsIssuedDate"
)


def _refusal(content: bytes | object) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content if isinstance(content, bytes) else json.dumps(content).encode(), BatchFormat.JSON)
    return refused.value


# --- a repeated jobType inside a header's repeated jobType -----------------------------------------------------


@pytest.mark.parametrize(
    "job_types",
    [
        '"jobType": {"jobType": "a", "jobType": "b"}, "jobType": "Final"',  # the fuzzed file: a TypeError, a 500
        '"jobType": "Final", "jobType": [{"jobType": "a", "jobType": "b"}]',
        '"jobType": {"x": {"jobType": 1, "jobType": 2}}, "jobType": "Final", "jobType": null',
    ],
    ids=["object", "in-a-list", "deeper"],
)
def test_a_job_type_repeated_inside_a_repeated_job_type_is_refused_as_a_key_named_twice(job_types: str) -> None:
    refusal = _refusal(f'{{"header": {{{job_types}, {HEADER}}}, "records": [{{}}]}}'.encode())

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, None)
    # as `{"x": 1, "x": 2}` in the same place is refused
    assert refusal.detail == "unreadable JSON in header.jobType: the key 'jobType' appears twice in one object"


def test_any_other_key_named_twice_in_the_same_place_is_refused_in_the_same_words() -> None:
    refusal = _refusal(f'{{"header": {{"jobType": {{"x": 1, "x": 2}}, "jobType": "Final", {HEADER}}}}}'.encode())

    assert (refusal.code, refusal.detail) == (
        BatchCode.MALFORMED,
        "unreadable JSON in header.jobType: the key 'x' appears twice in one object",
    )


def test_a_repeated_job_type_holding_an_object_without_repetition_is_still_rs004_quoting_it() -> None:
    refusal = _refusal(f'{{"header": {{"jobType": {{"x": 1}}, "jobType": "Final", {HEADER}}}}}'.encode())

    assert refusal.code is BatchCode.BAD_JOB_TYPE
    assert refusal.detail.startswith("the header gives the job type twice ('{\"x\": 1}' and 'Final')")


# --- many unknown keys, or many faults: the same refusal, pydantic asked for one record's faults at most -----------


@pytest.fixture
def pydantic_faults(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many faults pydantic said, each time it refused the header or the records."""
    said: list[int] = []
    records = json_batch._RECORD_LIST
    header = JsonBatchHeader.model_validate

    class CountingRecords:
        def validate_python(self, value: object) -> object:
            try:
                return records.validate_python(value)
            except ValidationError as error:
                said.append(error.error_count())
                raise

    def counting_header(value: object) -> JsonBatchHeader:
        try:
            return header(value)
        except ValidationError as error:
            said.append(error.error_count())
            raise

    monkeypatch.setattr(json_batch, "_RECORD_LIST", CountingRecords())
    monkeypatch.setattr(JsonBatchHeader, "model_validate", staticmethod(counting_header))
    return said


def test_a_header_of_thousands_of_unknown_keys_names_the_first_and_pydantic_says_one_fault(
    pydantic_faults: list[int],
) -> None:
    # the fuzzed header had 500,000: 7 s of pydantic saying each, for a refusal naming one
    header = {**JSON_HEADER, **{f"k{index}": index for index in range(5_000, 0, -1)}}

    refusal = _refusal({"header": header, "records": [{}]})

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, None)
    assert refusal.detail == HEADER_FIELDS.format(key="k5000")  # the first in the file, not in sorted order
    assert pydantic_faults == [1]


def test_records_of_many_unknown_keys_name_the_first_records_first_key_and_pydantic_says_one_fault(
    pydantic_faults: list[int],
) -> None:
    # the fuzzed file had 8,500 records of 90 unknown keys each: 11 s
    records = [{"uln": "1000000043"}] * 3 + [{f"x{key:02d}": 0 for key in range(90, 0, -1)}] * 300

    refusal = _refusal({"header": JSON_HEADER, "records": records})

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 4)
    assert refusal.detail == RECORD_FIELDS.format(line=4, key="x90")
    assert pydantic_faults == [1]


def test_records_of_many_faults_name_the_first_and_pydantic_says_only_that_records(
    pydantic_faults: list[int],
) -> None:
    records = [{"uln": "1000000043"}] + [{"grade": True, "credits": True, "uln": True}] * 2_000

    refusal = _refusal({"header": JSON_HEADER, "records": records})

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 2)
    assert refusal.detail == "record 2 uln must be a string or a whole number"
    assert pydantic_faults == [7]  # uln and credits: one a type each they take (3); grade: 1


@pytest.mark.parametrize(
    ("document", "line", "detail"),
    [
        (  # a known field's fault comes before any unknown key, as pydantic says them
            {"header": {"zz": 1, **JSON_HEADER, "jobType": 1}, "records": [{}]},
            None,
            "header.jobType is a number: send it as a string, in quotes (only uln, gender, centreUkprn and credits"
            " may be numbers)",
        ),
        ({"header": {"zz": 1, "ao": 2}, "records": [{}]}, None, "header.awardingOrganisation: Field required"),
        (  # a field by its Python name and its key: the name is unknown, and it comes first in the file
            {"header": {"awarding_organisation": "RN5133", **JSON_HEADER, "zz": 1}, "records": [{}]},
            None,
            "header has the field 'awarding_organisation': field names are written in camelCase, so write"
            " 'awardingOrganisation'",
        ),
        (
            {"header": JSON_HEADER, "records": [{"grade": 7}, {"zz": 1}]},
            1,
            "record 1 grade is a number: send it as a string, in quotes (only uln, gender, centreUkprn and credits"
            " may be numbers)",
        ),
        (
            {"header": JSON_HEADER, "records": [{}, "x", {"zz": 1}]},
            2,
            "record 2: Input should be a valid dictionary or instance of JsonBatchRecord",
        ),
        (
            {"header": JSON_HEADER, "records": [{}, {"zz": 1, "uln": True}]},
            2,
            "record 2 uln must be a string or a whole number",
        ),
        (
            {"header": JSON_HEADER, "records": [{"given_name": "Alex", "givenName": "A", "zz": 1}]},
            1,
            "record 1 has the field 'given_name': field names are written in camelCase, so write 'givenName'",
        ),
        (
            {"header": JSON_HEADER, "records": [{}, None, {"ULN": 1, "Grade": 2}]},
            2,
            "record 2: Input should be a valid dictionary or instance of JsonBatchRecord",
        ),
        (
            {"header": JSON_HEADER, "records": [{"uln": "1000000043"}, {"x": 1, "ULN": 1, "Grade": 2}, 5]},
            2,
            RECORD_FIELDS.format(line=2, key="x"),
        ),
        (
            {"header": JSON_HEADER, "records": [{"ULN": 1, "Grade": 2}]},
            1,
            "record 1 has the field 'ULN': field names are case-sensitive, so write 'uln'",
        ),
        (
            {"header": JSON_HEADER, "records": [{}], "zeta": 1, "alpha": 2},
            None,
            "unknown key 'alpha'; only header and records",
        ),
    ],
    ids=[
        "header-type-fault-first",
        "header-missing-field-first",
        "header-name-and-alias",
        "earlier-record-fault",
        "earlier-record-not-an-object",
        "same-record-type-fault-first",
        "record-name-and-alias",
        "null-record-first",
        "first-unknown-key-in-file-order",
        "case",
        "top-level-sorted",
    ],
)
def test_a_file_with_unknown_keys_gets_the_refusal_pydantic_gave_for_the_whole_of_it(
    document: object, line: int | None, detail: str
) -> None:
    refusal = _refusal(document)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, line, detail)


@pytest.mark.parametrize(
    ("header", "record", "line", "detail"),
    [
        (
            {"awardingOrganisation": "RN5133", "job_type": "Provisional", "notificationEmail": "a@b.example"},
            {},
            None,
            "header has the field 'job_type': field names are written in camelCase, so write 'jobType'",
        ),
        (
            {**JSON_HEADER, "jobType": "Final", "job_type": "Provisional"},
            {},
            None,
            "header has the field 'job_type': field names are written in camelCase, so write 'jobType'",
        ),
        (
            JSON_HEADER,
            {"given_name": "Alex"},
            1,
            "record 1 has the field 'given_name': field names are written in camelCase, so write 'givenName'",
        ),
        (
            JSON_HEADER,
            {"centre_ukprn": 10001234},
            1,
            "record 1 has the field 'centre_ukprn': field names are written in camelCase, so write 'centreUkprn'",
        ),
    ],
    ids=["header-name-alone", "header-name-beside-its-key", "record-name", "record-number-name"],
)
def test_fields_by_their_python_names_are_unknown_keys_naming_the_key_to_write(
    header: dict[str, object], record: dict[str, object], line: int | None, detail: str
) -> None:
    # the published schema (additionalProperties: false) has the camelCase keys only
    refusal = _refusal({"header": header, "records": [record]})

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, line, detail)
