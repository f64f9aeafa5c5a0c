"""The pure rules of a submission: status codes, limits, idempotency, authorisation, chunking, events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.api import refusal_status
from ingest.submission import (
    MAX_EVENT_BYTES,
    BatchIdentity,
    InvalidIdempotencyKey,
    NotAllowedToSubmit,
    PreparedBatch,
    batch_ao_for,
    caller_ao,
    carried,
    chunk_event_id,
    chunk_records,
    completed_event_id,
    content_sha256,
    declared_too_large,
    dedup_key,
    encoded_record,
    filename_from,
    is_key_reused_for_other_content,
    may_submit,
    mislabelled,
    normalise_idempotency_key,
    prepare_encoded,
    replay_headers,
    resolve_format,
    submitted_event_id,
)
from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    SubmittedRecord,
)
from lrs_contracts.codes import MAX_BATCH_BYTES, BatchCode
from lrs_contracts.registry import decode, encode, wrap
from lrs_domain.formats import BatchRefused
from lrs_platform.identity import Principal

AO = Principal.parse("ao:RN5133")
OPERATOR = Principal.parse("operator:alice")
PROVIDER = Principal.parse("provider:10001234")


def encoded_records(records: tuple[SubmittedRecord, ...] | list[SubmittedRecord]) -> list[bytes]:
    """The records' JSON as ingest carries them in their chunks (unsealed: these tests hold no keys)."""
    return carried(records, [encoded_record(record) for record in records])


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (BatchCode.MALFORMED, 422),
        (BatchCode.TOO_LARGE, 413),
        (BatchCode.TOO_MANY_RECORDS, 422),
        (BatchCode.BAD_JOB_TYPE, 422),
        (BatchCode.NO_RECORDS, 422),
        (BatchCode.BAD_NOTIFICATION_EMAIL, 422),
    ],
)
def test_only_an_unread_body_is_413_every_other_refusal_is_422(code: BatchCode, status: int) -> None:
    assert refusal_status(code) == status


@pytest.mark.parametrize(
    ("header", "too_large"),
    [
        (None, False),
        (str(MAX_BATCH_BYTES), False),
        (str(MAX_BATCH_BYTES + 1), True),
        (" 99999999999 ", True),
        ("not a number", False),
    ],
)
def test_a_declared_length_over_6_mb_is_refused_up_front(header: str | None, too_large: bool) -> None:
    assert declared_too_large(header) is too_large


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (None, None),
        ("3f1c1a56-1111-4a8b-9c55-0c1d2e3f4a5b", "3f1c1a56-1111-4a8b-9c55-0c1d2e3f4a5b"),
        ('"quoted-key"', "quoted-key"),
        ("  padded ", "padded"),
        ("x" * 255, "x" * 255),
    ],
)
def test_idempotency_keys_are_taken_as_sent(raw: str | None, key: str | None) -> None:
    assert normalise_idempotency_key(raw) == key


@pytest.mark.parametrize("raw", ["", '""', "has space", "x" * 256, "caf\u00e9"])
def test_unusable_idempotency_keys_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        normalise_idempotency_key(raw)


def test_the_dedup_key_is_the_idempotency_key_when_sent_else_the_content() -> None:
    sha = content_sha256(b"file")
    assert dedup_key("k-1", sha) == "key:k-1"
    assert dedup_key(None, sha) == f"sha256:{sha}"
    assert dedup_key("k-1", sha) == dedup_key("k-1", content_sha256(b"other file"))
    assert dedup_key("k-1", sha) != dedup_key("k-2", sha)


def test_a_key_reused_for_a_different_file_is_a_conflict_but_not_a_content_match() -> None:
    assert is_key_reused_for_other_content("k", "aaa", "bbb")
    assert not is_key_reused_for_other_content("k", "aaa", "aaa")
    assert not is_key_reused_for_other_content(None, "aaa", "bbb")


def test_an_ao_submits_only_as_itself_and_an_operator_for_anyone() -> None:
    assert batch_ao_for(AO, "RN5133") == "RN5133"
    assert batch_ao_for(OPERATOR, "RN9001") == "RN9001"
    with pytest.raises(NotAllowedToSubmit):
        batch_ao_for(AO, "RN9001")
    with pytest.raises(NotAllowedToSubmit):
        batch_ao_for(PROVIDER, "RN5133")
    assert may_submit(AO) and may_submit(OPERATOR) and not may_submit(PROVIDER)
    assert caller_ao(AO) == "RN5133" and caller_ao(OPERATOR) is None


def test_the_file_name_comes_from_content_disposition() -> None:
    assert filename_from('attachment; filename="june.csv"') == "june.csv"
    assert filename_from("inline") is None
    assert filename_from(None) is None


@pytest.mark.parametrize(
    ("requested", "content_type", "disposition", "content", "expected"),
    [
        (BatchFormat.XML, "application/json", None, b"{}", BatchFormat.XML),
        (None, "text/csv; charset=utf-8", None, b"<x/>", BatchFormat.CSV),
        (None, "application/octet-stream", 'attachment; filename="b.json"', b"?", BatchFormat.JSON),
        (None, None, None, b'  <?xml version="1.0"?>', BatchFormat.XML),
    ],
)
def test_the_format_parameter_wins_then_content_type_then_name_then_bytes(
    requested: BatchFormat | None,
    content_type: str | None,
    disposition: str | None,
    content: bytes,
    expected: BatchFormat,
) -> None:
    assert resolve_format(requested, content_type, disposition, content) is expected


def test_an_unrecognisable_upload_is_rs001() -> None:
    with pytest.raises(BatchRefused) as refused:
        resolve_format(None, "application/octet-stream", None, b"--x\r\n")
    assert refused.value.code is BatchCode.MALFORMED
    assert "not recognisable as CSV, XML or JSON" in refused.value.detail


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("image/png", "the body is labelled image/png, which is no batch file's type"),
        ("multipart/form-data; boundary=x", "(a multipart form: send the file itself as the body)"),
        ("Text/HTML; charset=utf-8", "the body is labelled text/html,"),
    ],
)
def test_a_body_labelled_as_something_else_than_a_batch_file_is_rs001_saying_so(content_type: str, said: str) -> None:
    """It was taken for whatever its bytes looked like: a JSON batch sent as image/png was accepted."""
    with pytest.raises(BatchRefused) as refused:
        resolve_format(None, content_type, None, b'{"header": {}}')
    assert refused.value.code is BatchCode.MALFORMED and said in refused.value.detail
    assert resolve_format(BatchFormat.JSON, content_type, None, b"{}") is BatchFormat.JSON  # ?format= still wins


def test_an_rfc_2231_file_name_is_read_in_its_charset() -> None:
    assert filename_from("attachment; filename*=utf-8''juin%C3%A9.json") == "juin\u00e9.json"


@pytest.mark.parametrize(
    "disposition",
    [
        "attachment; filename*=idna''b.csv",  # a codec without the "replace" handler: UnicodeError
        "attachment; filename*=undefined''b.csv",
        "attachment; filename*=punycode''%ffb.csv",
        "attachment; filename*0*=%00 \"utf-8''b.csv\"",  # a charset name holding NUL: ValueError
        "attachment; filename*;filename*0=b.csv",  # continuations mixed up: TypeError
        "attachment; filename*=utf-8''a%00b.csv",  # a name holding NUL, which could not be stored or sent
    ],
)
def test_a_file_name_that_cannot_be_read_is_taken_as_no_name(disposition: str) -> None:
    assert filename_from(disposition) is None


def test_the_file_name_is_read_only_when_the_content_type_does_not_settle_the_format() -> None:
    unreadable = "attachment; filename*=idna''b.csv"
    assert resolve_format(None, "text/csv", unreadable, b"?") is BatchFormat.CSV
    assert resolve_format(BatchFormat.XML, None, unreadable, b"?") is BatchFormat.XML
    # an unreadable name is no name: the first bytes tell, else the refusal says how to name the format
    assert resolve_format(None, "application/octet-stream", unreadable, b'{"header": {}}') is BatchFormat.JSON
    with pytest.raises(BatchRefused) as refused:
        resolve_format(None, "application/octet-stream", unreadable, b"whatever")
    assert refused.value.code is BatchCode.MALFORMED
    assert "?format=csv|xml|json" in refused.value.detail


def _records(count: int, *, mis: str = "CAND") -> tuple[SubmittedRecord, ...]:
    return tuple(
        SubmittedRecord(line=index + 4, mis_identifier=f"{mis}-{index}", uln="1000000043", grade="Pass")
        for index in range(count)
    )


def test_chunks_keep_file_order_and_respect_the_record_limit() -> None:
    records = _records(2_500)
    chunks = chunk_records(records, max_records=1_000, max_bytes=10**9, size_of=lambda _: 1)
    assert [len(chunk) for chunk in chunks] == [1_000, 1_000, 500]
    assert [record for chunk in chunks for record in chunk] == list(records)


def test_chunks_respect_the_byte_budget_and_a_big_record_travels_alone() -> None:
    records = _records(5)
    sizes = {4: 40, 5: 40, 6: 500, 7: 10, 8: 10}
    chunks = chunk_records(records, max_records=100, max_bytes=100, size_of=lambda record: sizes[record.line])
    assert [[record.line for record in chunk] for chunk in chunks] == [[4, 5], [6], [7, 8]]
    assert chunk_records((), max_records=10, max_bytes=10, size_of=lambda _: 1) == []


HEADER = BatchHeader(awarding_organisation="RN5133", notification_email="results@example.org")
IDENTITY = BatchIdentity(uuid.uuid4(), "RN5133", "ao:RN5133", datetime(2025, 6, 1, 9, 30, tzinfo=UTC))


def test_a_batch_becomes_submitted_chunks_and_an_end_marker_with_deterministic_ids() -> None:
    prepared = prepare_encoded(
        IDENTITY, HEADER, encoded_records(_records(2_001)), BatchFormat.CSV, sha256="abc", size_bytes=123
    )
    decoded = [decode(value) for value in prepared.values]
    kinds = [type(payload) for _, payload in decoded]
    assert kinds == [
        BatchSubmitted,
        BatchRecordsSubmitted,
        BatchRecordsSubmitted,
        BatchRecordsSubmitted,
        BatchSubmissionCompleted,
    ]
    batch_id = IDENTITY.batch_id
    assert [envelope.event_id for envelope, _ in decoded] == [
        submitted_event_id(batch_id),
        chunk_event_id(batch_id, 0),
        chunk_event_id(batch_id, 1),
        chunk_event_id(batch_id, 2),
        completed_event_id(batch_id),
    ]
    assert {envelope.correlation_id for envelope, _ in decoded} == {str(batch_id)}
    assert {envelope.causation_id for envelope, _ in decoded[1:]} == {str(submitted_event_id(batch_id))}
    submitted = decoded[0][1]
    assert isinstance(submitted, BatchSubmitted)
    assert (submitted.record_count, submitted.content_sha256, submitted.size_bytes) == (2_001, "abc", 123)
    marker = decoded[-1][1]
    assert isinstance(marker, BatchSubmissionCompleted)
    assert (marker.record_count, marker.chunk_count) == (2_001, 3)
    assert (prepared.record_count, prepared.chunk_count) == (2_001, 3)


def test_preparing_the_same_batch_again_gives_the_same_bytes() -> None:
    first = prepare_encoded(
        IDENTITY, HEADER, encoded_records(_records(10)), BatchFormat.JSON, sha256="abc", size_bytes=1
    )
    again = prepare_encoded(
        IDENTITY, HEADER, encoded_records(_records(10)), BatchFormat.JSON, sha256="abc", size_bytes=1
    )
    assert first.values == again.values


def test_a_record_too_large_for_one_message_is_rs001_at_its_line() -> None:
    huge = SubmittedRecord(line=7, given_name="\u0001" * (MAX_EVENT_BYTES // 6 + 1))
    with pytest.raises(BatchRefused) as refused:
        prepare_encoded(IDENTITY, HEADER, encoded_records((huge,)), BatchFormat.CSV, sha256="abc", size_bytes=1)
    assert (refused.value.code, refused.value.line) == (BatchCode.MALFORMED, 7)


def test_a_replay_says_so_and_every_answer_points_at_the_batch() -> None:
    batch_id = uuid.uuid4()
    assert replay_headers(batch_id, replay=True) == {"Location": f"/v1/batches/{batch_id}", "Idempotent-Replay": "true"}
    assert replay_headers(batch_id, replay=False) == {"Location": f"/v1/batches/{batch_id}"}


def wrapped_one_by_one(identity: BatchIdentity, prepared: PreparedBatch, records: list[SubmittedRecord]) -> list[bytes]:
    """What the events were before they were spliced: every chunk dumped, validated and dumped by `wrap`."""
    batch_id, first_id, received_at = identity.batch_id, submitted_event_id(identity.batch_id), identity.received_at
    sizes = [len(record.model_dump_json().encode()) for record in records]
    chunks = chunk_records(list(range(len(records))), max_records=3, max_bytes=600, size_of=sizes.__getitem__)
    shared = {"source": "ingest", "correlation_id": str(batch_id), "occurred_at": received_at}
    submitted = BatchSubmitted(
        batch_id=batch_id,
        ao_id=identity.ao_id,
        header=prepared.header,
        format=prepared.format,
        record_count=len(records),
        content_sha256=prepared.sha256,
        size_bytes=prepared.size_bytes,
        submitted_by=identity.submitted_by,
        received_at=received_at,
    )
    chunk_events = [
        BatchRecordsSubmitted(
            batch_id=batch_id, ao_id=identity.ao_id, chunk_index=index, records=tuple(records[i] for i in chunk)
        )
        for index, chunk in enumerate(chunks)
    ]
    marker = BatchSubmissionCompleted(
        batch_id=batch_id, ao_id=identity.ao_id, record_count=len(records), chunk_count=len(chunks)
    )
    return [
        encode(wrap(submitted, event_id=first_id, **shared)),  # type: ignore[arg-type]
        *(
            encode(wrap(event, causation_id=str(first_id), event_id=chunk_event_id(batch_id, index), **shared))  # type: ignore[arg-type]
            for index, event in enumerate(chunk_events)
        ),
        encode(wrap(marker, causation_id=str(first_id), event_id=completed_event_id(batch_id), **shared)),  # type: ignore[arg-type]
    ]


VALUES = st.one_of(
    st.none(), st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20), st.just('"\\/\u2028\t')
)
RECORD_ATTRIBUTES = [name for name in SubmittedRecord.model_fields if name not in ("line", "learner_erased")]
RECORDS = st.lists(
    st.builds(
        lambda line, values, erased: SubmittedRecord(
            line=line, learner_erased=erased, **dict(zip(RECORD_ATTRIBUTES, values, strict=True))
        ),
        st.integers(min_value=1, max_value=10_001),
        st.lists(VALUES, min_size=len(RECORD_ATTRIBUTES), max_size=len(RECORD_ATTRIBUTES)),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS, st.sampled_from(BatchFormat))
def test_the_events_are_byte_for_byte_what_wrap_and_encode_write(
    records: list[SubmittedRecord], fmt: BatchFormat
) -> None:
    prepared = prepare_encoded(
        IDENTITY, HEADER, encoded_records(records), fmt, sha256="abc", size_bytes=1, max_records=3, max_bytes=600
    )
    assert list(prepared.values) == wrapped_one_by_one(IDENTITY, prepared, records)
    again = BatchIdentity(uuid.uuid4(), "RN5133", "operator:bob", datetime(2025, 7, 1, tzinfo=UTC))
    assert (
        prepared.for_identity(again).values
        == prepare_encoded(
            again, HEADER, encoded_records(records), fmt, sha256="abc", size_bytes=1, max_records=3, max_bytes=600
        ).values
    )


@given(
    st.lists(st.integers(min_value=1, max_value=40), max_size=40),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=120),
)
def test_a_batchs_chunks_are_what_chunk_records_makes_of_its_encoded_records(
    sizes: list[int], max_records: int, max_bytes: int
) -> None:
    encoded = [str(index % 10).encode() * size for index, size in enumerate(sizes)]
    expected = chunk_records(encoded, max_records=max_records, max_bytes=max_bytes, size_of=len)
    if not encoded:
        return  # a parsed batch has records
    prepared = prepare_encoded(
        IDENTITY,
        HEADER,
        encoded,
        BatchFormat.CSV,
        sha256="abc",
        size_bytes=1,
        max_records=max_records,
        max_bytes=max_bytes,
    )
    assert prepared.record_chunks == tuple(b",".join(chunk) for chunk in expected)


def test_a_mislabelled_file_names_how_it_was_sent_the_format_parameter_or_its_name() -> None:
    unreadable_json = BatchRefused(BatchCode.MALFORMED, "malformed JSON: Expecting value", 1, 1)
    csv = b"FileVersion,AwardingOrganisation,JobType\n1.0,RN5133,Final\n"
    by_parameter = mislabelled(unreadable_json, BatchFormat.JSON, BatchFormat.JSON, "text/csv", None, csv)
    by_name = mislabelled(
        unreadable_json, BatchFormat.JSON, None, "application/octet-stream", 'attachment; filename="b.json"', csv
    )
    assert by_parameter.detail == "the body was sent with ?format=json but looks like CSV: send it with ?format=csv"
    assert by_name.detail == "the body is named b.json but looks like CSV: send it with Content-Type: text/csv"
    assert (by_name.code, by_name.line, by_name.column) == (BatchCode.MALFORMED, None, None)
    # another refusal, or content that does not plainly look like another format, is left as it is
    too_many = BatchRefused(BatchCode.TOO_MANY_RECORDS, "too many")
    assert mislabelled(too_many, BatchFormat.JSON, None, "application/json", None, csv) is too_many
    assert mislabelled(unreadable_json, BatchFormat.JSON, None, "application/json", None, b"hello") is unreadable_json
