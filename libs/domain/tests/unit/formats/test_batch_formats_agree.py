import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.formats.batch_documents import (
    HEADER,
    HEADER_NAMES,
    RECORD_NAMES,
    document,
    first_record_line,
    records,
)

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_domain.formats import (
    HEADER_FIELDS,
    RECORD_FIELDS,
    SCHEMA_PATH,
    JsonBatch,
    ParsedBatch,
    parse_batch,
    write_batch,
)

ALL_FORMATS = list(BatchFormat)


# What ingest sets on a record (decision 0080), not a field of any file.
SET_AT_INGEST = {"personal", "learner_erased"}


def _without_lines(batch: ParsedBatch) -> list[dict[str, str | None]]:
    return [record.model_dump(exclude={"line", *SET_AT_INGEST}) for record in batch.records]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_each_format_reads_the_sample_header_and_records(fmt: BatchFormat) -> None:
    sample = records(5)

    batch = parse_batch(document(fmt, HEADER, sample), fmt)

    assert batch.format is fmt
    assert batch.header == BatchHeader(
        file_version="1.0",
        awarding_organisation="RN5133",
        job_type=JobType.FINAL,
        notification_email="results@example.org",
        batch_reference="JUNE-2024-01",
        results_issued_date="2024-08-22",
    )
    first = first_record_line(fmt)
    assert batch.records == tuple(
        SubmittedRecord(line=first + position, **values) for position, values in enumerate(sample)
    )


def test_the_three_formats_give_the_same_batch_apart_from_lines() -> None:
    sample = records(40)

    csv_batch, xml_batch, json_batch = (
        parse_batch(document(fmt, HEADER, sample), fmt) for fmt in (BatchFormat.CSV, BatchFormat.XML, BatchFormat.JSON)
    )

    assert csv_batch.header == xml_batch.header == json_batch.header
    assert _without_lines(csv_batch) == _without_lines(xml_batch) == _without_lines(json_batch)
    assert [record.line for record in csv_batch.records] == list(range(4, 44))
    assert [record.line for record in xml_batch.records] == list(range(1, 41))
    assert [record.line for record in json_batch.records] == list(range(1, 41))


@pytest.mark.parametrize("written_as", ALL_FORMATS)
@pytest.mark.parametrize("read_from", ALL_FORMATS)
def test_writing_a_parsed_batch_and_reading_it_back_gives_the_same_batch(
    read_from: BatchFormat, written_as: BatchFormat
) -> None:
    awkward: list[dict[str, str | None]] = [
        *records(12),
        {"given_name": 'Zoë "Zed" <O&Brien>', "family_name": "Smith, Jones", "mis_identifier": "line\nbreak"},
        {"uln": "1000000043", "gender": "2"},
    ]
    original = parse_batch(document(read_from, HEADER, awkward), read_from)

    reread = parse_batch(write_batch(original, written_as), written_as)

    assert reread.header == original.header
    assert _without_lines(reread) == _without_lines(original)
    if written_as is BatchFormat.CSV:
        # the embedded line break makes the next record start one line later
        assert [record.line for record in reread.records] == [*range(4, 17), 18]
    else:
        assert [record.line for record in reread.records] == list(range(1, 15))


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_header_with_only_mandatory_values_survives_a_round_trip(fmt: BatchFormat) -> None:
    original = parse_batch(
        document(
            BatchFormat.JSON,
            {"awarding_organisation": "RN5133", "notification_email": "a@example.org"},
            records(1),
        ),
        BatchFormat.JSON,
    )

    reread = parse_batch(write_batch(original, fmt), fmt)

    assert reread.header == original.header
    assert reread.header.effective_job_type is JobType.FINAL
    assert _without_lines(reread) == _without_lines(original)


def test_the_field_tables_name_every_contract_field_in_order() -> None:
    assert [field.attribute for field in HEADER_FIELDS] == list(BatchHeader.model_fields)
    assert [field.attribute for field in RECORD_FIELDS] == [
        name for name in SubmittedRecord.model_fields if name != "line" and name not in SET_AT_INGEST
    ]
    assert {field.attribute: (field.heading, field.json_key) for field in HEADER_FIELDS} == HEADER_NAMES
    assert {field.attribute: (field.heading, field.json_key) for field in RECORD_FIELDS} == RECORD_NAMES


def test_the_json_model_uses_the_published_keys() -> None:
    schema = JsonBatch.model_json_schema()

    assert set(schema["properties"]) == {"header", "records"}
    assert list(schema["$defs"]["JsonBatchHeader"]["properties"]) == [field.json_key for field in HEADER_FIELDS]
    assert list(schema["$defs"]["JsonBatchRecord"]["properties"]) == [field.json_key for field in RECORD_FIELDS]
    # notificationEmail is required by the header's rules (RS007), not by the model (RS001): see test_json_schema_refusals
    assert schema["$defs"]["JsonBatchHeader"]["required"] == ["awardingOrganisation", "notificationEmail"]


def test_the_xsd_declares_the_same_elements_as_the_parser() -> None:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema = fromstring(SCHEMA_PATH.read_bytes())
    declared = {
        complex_type.get("name"): [element.get("name") for element in complex_type.iter(f"{xs}element")]
        for complex_type in schema.findall(f"{xs}complexType")
    }

    assert declared["BatchHeader"] == [field.heading for field in HEADER_FIELDS]
    assert declared["AchievementRecord"] == [field.heading for field in RECORD_FIELDS]
    assert [element.get("name") for element in schema.findall(f"{xs}element")] == ["AchievementBatch"]


field_values = st.one_of(
    st.none(),
    st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), include_characters="\t\n\r"), max_size=20),
)
# a record with no value at all would be a blank row in CSV, which is skipped
record_values = st.fixed_dictionaries({attribute: field_values for attribute in RECORD_NAMES}).filter(
    lambda row: any(value and value.strip() for value in row.values())
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(record_values, min_size=1, max_size=5), fmt=st.sampled_from(ALL_FORMATS))
def test_any_printable_values_survive_writing_and_reading(rows: list[dict[str, str | None]], fmt: BatchFormat) -> None:
    original = parse_batch(document(BatchFormat.JSON, HEADER, rows), BatchFormat.JSON)

    reread = parse_batch(write_batch(original, fmt), fmt)

    assert _without_lines(reread) == _without_lines(original)
    assert _without_lines(original) == [
        {attribute: (value.strip() or None) if value is not None else None for attribute, value in row.items()}
        for row in rows
    ]
