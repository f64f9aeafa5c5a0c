import json
from pathlib import Path
from typing import Any

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, json_document, json_object, record, records

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, JsonBatch, ParsedBatch, parse_batch
from lrs_domain.identifiers import normalise_qan
from lrs_domain.reference_files import load_catalogue, load_register
from lrs_domain.rules import check_credits, check_gender

JSON_HEADER: dict[str, str | None] = {"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"}


def _parse(document: object) -> ParsedBatch:
    return parse_batch(json.dumps(document).encode(), BatchFormat.JSON)


def _refusal(content: bytes | object) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content if isinstance(content, bytes) else json.dumps(content).encode(), BatchFormat.JSON)
    return refused.value


def test_whole_numbers_are_accepted_for_digit_fields_and_become_their_digits() -> None:
    batch = _parse(
        {
            "header": JSON_HEADER,
            "records": [{"uln": 1000000043, "gender": 0, "centreUkprn": 10001234, "credits": 7}, {"credits": 12}],
        }
    )

    first, second = batch.records
    assert (first.uln, first.gender, first.centre_ukprn, first.credits) == ("1000000043", "0", "10001234", "7")
    assert second.credits == "12"


@pytest.mark.parametrize("key", ["uln", "gender", "centreUkprn", "credits"])
def test_a_whole_number_keeps_its_text_as_written_so_minus_zero_is_not_zero(key: str) -> None:
    """docs/batch-files.md: read as the text of the number. `-0` is the text "-0" (RV021 as gender or credits, as
    in CSV and XML), not the "0" Python writes for the number."""
    content = b'{"header": %s, "records": [{"%s": -0}, {"%s": 0}, {"%s": -7}]}' % (
        json.dumps(JSON_HEADER).encode(),
        key.encode(),
        key.encode(),
        key.encode(),
    )

    records = parse_batch(content, BatchFormat.JSON).records

    attribute = {"centreUkprn": "centre_ukprn"}.get(key, key)
    assert [getattr(record, attribute) for record in records] == ["-0", "0", "-7"]


def test_minus_zero_is_read_as_csv_and_xml_read_it_and_is_rv021_as_gender_or_credits() -> None:
    written = {"gender": "-0", "credits": "-0"}
    as_numbers = json_document(HEADER, [record(1, **written)])
    for key in ("gender", "credits"):
        as_numbers = as_numbers.replace(f'"{key}": "-0"'.encode(), f'"{key}": -0'.encode())
    assert b'"gender": -0' in as_numbers and b'"credits": -0' in as_numbers

    read = {fmt: parse_batch(document(fmt, HEADER, [record(1, **written)]), fmt).records for fmt in BatchFormat}
    [json_record] = parse_batch(as_numbers, BatchFormat.JSON).records

    assert (json_record.gender, json_record.credits) == ("-0", "-0")
    for [other] in read.values():  # the same values, on each format's own line numbers
        assert other.model_dump(exclude={"line"}) == json_record.model_dump(exclude={"line"})
    assert check_gender(json_record.gender)[0].code == "RV021"
    assert check_credits(json_record.credits)[1][0].code == "RV021"


def test_minus_zero_where_text_is_expected_is_a_number_still() -> None:
    refusal = _refusal(b'{"header": %s, "records": [{"grade": -0}]}' % json.dumps(JSON_HEADER).encode())

    assert refusal.detail == (
        "record 1 grade is a number: send it as a string, in quotes (only uln, gender, centreUkprn and credits may be"
        " numbers)"
    )


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("7.5", "credits"),
        ("2.0", "gender"),
        ("1e9", "uln"),
        ("17.50", "credits"),
        ("1e3", "credits"),
        ("1e309", "credits"),
    ],
)
def test_a_number_with_a_decimal_point_or_an_exponent_becomes_its_text_for_the_rules_to_judge(
    number: str, key: str
) -> None:
    """One record's bad value rejects that record (RV021, RV001), never the whole file; the value is quoted back as
    the AO wrote it, not as Python writes the float ("1e309" not "inf", "17.50" not "17.5")."""
    content = b'{"header": %s, "records": [{"%s": %s}]}' % (
        json.dumps(JSON_HEADER).encode(),
        key.encode(),
        number.encode(),
    )

    [record] = parse_batch(content, BatchFormat.JSON).records

    assert getattr(record, key) == number


@pytest.mark.parametrize(
    ("document", "line", "detail"),
    [
        ({"header": JSON_HEADER, "records": [{}, {"grade": 7}]}, 2, "record 2 grade is a number"),
        ({"header": JSON_HEADER, "records": [{"givenName": 5}]}, 1, "record 1 givenName is a number"),
        ({"header": JSON_HEADER, "records": [{"awardDate": 20240822}]}, 1, "record 1 awardDate is a number"),
        ({"header": {**JSON_HEADER, "fileVersion": 1.0}, "records": [{}]}, None, "header.fileVersion is a number"),
    ],
)
def test_a_number_where_text_is_expected_says_to_send_it_as_a_string(
    document: object, line: int | None, detail: str
) -> None:
    refusal = _refusal(document)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, line)
    assert refusal.detail == (
        f"{detail}: send it as a string, in quotes (only uln, gender, centreUkprn and credits may be numbers)"
    )


@pytest.mark.parametrize("value", [True, [1000000043], {"digits": "1000000043"}])
def test_a_digit_field_of_another_type_says_what_it_may_be(value: object) -> None:
    refusal = _refusal({"header": JSON_HEADER, "records": [{"uln": value}]})

    assert (refusal.code, refusal.line, refusal.detail) == (
        BatchCode.MALFORMED,
        1,
        "record 1 uln must be a string or a whole number",
    )


def test_a_byte_that_is_not_utf8_is_named_as_in_csv_and_xml() -> None:
    refusal = _refusal(b'{"header": {"awardingOrganisation": "Si\xe2n"}}')

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 1, 40)
    assert refusal.detail == "byte 0xE2 is not UTF-8: save the file as UTF-8"


def test_strings_are_trimmed_and_empty_strings_and_nulls_are_none() -> None:
    header = {**JSON_HEADER, "jobType": " ", "batchReference": None}
    batch = _parse(
        {
            "header": header,
            "records": [{"givenName": "  Alex ", "familyName": "", "uln": None, "grade": "\tPass\n"}],
        }
    )

    assert batch.header.job_type is None
    assert batch.header.batch_reference is None
    record = batch.records[0]
    assert (record.given_name, record.family_name, record.uln, record.grade) == ("Alex", None, None, "Pass")


def test_a_byte_order_mark_changes_nothing() -> None:
    content = json_document(HEADER, records(2))

    assert parse_batch(b"\xef\xbb\xbf" + content, BatchFormat.JSON) == parse_batch(content, BatchFormat.JSON)


@pytest.mark.parametrize(
    ("document", "line", "detail"),
    [
        (
            {"header": JSON_HEADER, "records": [{}, {"learner": "x"}]},
            2,
            "record 2 has no field 'learner': its fields are action, misIdentifier, uln, givenName,",
        ),
        (
            {"header": JSON_HEADER, "records": [{"grde": "A"}]},
            1,
            "record 1 has no field 'grde': its fields are action, misIdentifier, uln,",
        ),
        (
            {"header": JSON_HEADER, "records": [{"givenName": "Alex", "familyName": False}]},
            1,
            "record 1 familyName: Input should be a valid string",
        ),
        ({"header": JSON_HEADER, "records": [{"uln": True}]}, 1, "record 1 uln"),
        ({"header": JSON_HEADER, "records": [{"gender": [1]}]}, 1, "record 1 gender"),
        ({"header": JSON_HEADER, "records": [{"grade": {"value": "Pass"}}]}, 1, "record 1 grade"),
        ({"header": JSON_HEADER, "records": [{}, {}, "Create"]}, 3, "record 3: Input should be a valid dictionary"),
        (  # a value written as a key, a learner's name say, is not said back: the refusal is kept
            {"header": JSON_HEADER, "records": [{"Ottoline Marchbanks 2001-07-29": "x"}]},
            1,
            "record 1 has a field whose name is none of its fields (not repeated here): they are action,",
        ),
        (
            {"header": JSON_HEADER, "records": [{"ULN": "1000000043"}]},
            1,
            "record 1 has the field 'ULN': field names are case-sensitive, so write 'uln'",
        ),
        (
            {"header": {**JSON_HEADER, "ao": "RN1"}, "records": [{}]},
            None,
            "header has no field 'ao': its fields are fileVersion, awardingOrganisation, jobType,",
        ),
        ({"header": {**JSON_HEADER, "jobType": 1}, "records": [{}]}, None, "header.jobType"),
        ({"header": {"notificationEmail": "a@b.co"}, "records": [{}]}, None, "header.awardingOrganisation"),
        ({"header": {**JSON_HEADER, "awardingOrganisation": None}, "records": [{}]}, None, "awardingOrganisation"),
        ({"header": "RN5133", "records": [{}]}, None, "header"),
        ({"records": [{}]}, None, "the document has no header"),
        ({"header": JSON_HEADER, "records": {}}, None, "records must be a list"),
        ({"header": JSON_HEADER, "records": [{}], "footer": {}}, None, "unknown key 'footer'"),
        ([{"header": JSON_HEADER}], None, "must be an object"),
        ("batch", None, "must be an object"),
    ],
)
def test_an_unexpected_structure_is_malformed(document: object, line: int | None, detail: str) -> None:
    refusal = _refusal(document)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, line)
    assert detail in refusal.detail


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        (b"", 1, 1),
        (b'{"header": {}\n  "records": []}', 2, 3),
        (b'{"header": {},\n "records": [\n  {"uln": "1",}\n]}', 3, 15),
        (b"{'header': {}}", 1, 2),
        (b'{"header": {"awardingOrganisation": "RN\xff"}}', 1, 40),
    ],
)
def test_malformed_json_is_rs001_with_line_and_column(content: bytes, line: int, column: int) -> None:
    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, line, column)


@pytest.mark.parametrize(
    "content",
    [
        b'{"header": {}, "records": [{"credits": NaN}]}',
        b'{"header": {}, "records": [{"credits": Infinity}]}',
        b'{"header": {}, "records": [{"uln": 1' + b"0" * 5000 + b"}]}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["nan", "infinity", "huge-integer", "deep-nesting"],
)
def test_json_that_python_would_misread_or_choke_on_is_malformed(content: bytes) -> None:
    assert _refusal(content).code is BatchCode.MALFORMED


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b'{"header": {}, "records": [{"uln": "6936002314", "uln": "1000000043"}]}', "uln"),
        (b'{"header": {"batchReference": "A", "batchReference": "B"}, "records": []}', "batchReference"),
        (b'{"header": {}, "header": {}, "records": []}', "header"),
    ],
    ids=["record", "header", "top-level"],
)
def test_a_key_named_twice_in_one_object_is_malformed_not_read_as_the_last(content: bytes, key: str) -> None:
    refusal = _refusal(content)

    assert refusal.code is BatchCode.MALFORMED
    assert f"the key {key!r} appears twice in one object" in refusal.detail
    assert "6936002314" not in refusal.detail


def test_a_missing_records_key_is_no_records() -> None:
    assert _refusal({"header": JSON_HEADER}).code is BatchCode.NO_RECORDS


def test_the_json_model_accepts_what_the_parser_accepts() -> None:
    document = json_object(HEADER, records(3))

    model = JsonBatch.model_validate(document)

    assert model.header.awarding_organisation == "RN5133"
    assert len(model.records) == 3
    assert model.model_dump(by_alias=True, exclude_none=True) == document


def test_the_documented_example_is_a_sample_record_the_system_accepts_as_written() -> None:
    """The OpenAPI example of a JSON batch, sent as it stands after `make up`, is judged, not refused: its AO is
    in the register and awards its qualification, and its record is one of `samples/sample-100.json`'s, whose
    learners `make up` registers (a first submission accepts it; later ones find it unchanged)."""
    example: dict[str, Any] = JsonBatch.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index,assignment]
    batch = _parse(example)
    sample = json.loads((Path(__file__).parents[5] / "samples" / "sample-100.json").read_text())

    assert batch.header.awarding_organisation in load_register()
    assert example["records"][0] in sample["records"]
    assert example["header"]["awardingOrganisation"] == sample["header"]["awardingOrganisation"]
    qualification = normalise_qan(example["records"][0]["qualificationNumber"])
    assert qualification is not None
    awarded_by = {row.awarding_organisation_id for row in load_catalogue().rows_for(qualification)}
    assert batch.header.awarding_organisation in awarded_by


def test_json_nested_too_deeply_is_said_in_the_files_words_not_pythons() -> None:
    refusal = _refusal(b'{"header": {}, "records": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")

    assert refusal.code is BatchCode.MALFORMED
    assert "nested too deeply" in refusal.detail
    assert "recursion" not in refusal.detail


def test_utf16_json_is_named_as_such() -> None:
    refusal = _refusal('{"header": {}, "records": []}'.encode("utf-16"))

    assert (refusal.code, refusal.detail) == (BatchCode.MALFORMED, "the file is UTF-16, not UTF-8: save it as UTF-8")
