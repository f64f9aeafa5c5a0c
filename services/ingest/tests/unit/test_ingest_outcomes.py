"""The outcome consumer's pure parts and its handling of a poll, with fakes for the database and Kafka."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from structlog.testing import capture_logs
from tests.support.event_examples import JSON_VALUES, envelopes, json_paths, mutate

from ingest.outcomes import (
    OutcomeConsumer,
    StartWhereTheViewLeftOff,
    decided_chunk_of_json,
    outcome_of,
    start_timestamp_ms,
    view_event_of,
)
from ingest.repository import LARGEST_LINE, DecidedChunk, LineOutOfRange, LinesRepeated, ViewEvent
from ingest.service import DecisionSignal
from lrs_contracts.batch import BatchSubmissionCompleted, JobType
from lrs_contracts.envelope import Envelope
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
    Finding,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.registry import decode, encode, wrap
from lrs_platform.consumer import Failure, Message, classify_failure
from lrs_platform.parking import DeadLetterOffice, ParkedMessages

BATCH_ID = uuid.uuid4()
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def message(value: bytes | None, offset: int = 0) -> Message:
    return Message("lrs.batch.outcomes.v1", 0, offset, b"key", value)


def completed() -> BatchCompleted:
    return BatchCompleted(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="a@example.org",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )


def decided() -> BatchRecordsDecided:
    outcome = RecordOutcome(line=1, status=RecordStatus.ACCEPTED, uln_masked="******0043")
    return BatchRecordsDecided(batch_id=BATCH_ID, ao_id="RN5133", chunk_index=0, outcomes=(outcome,))


def encoded(payload: Any) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id=str(BATCH_ID)))


def test_outcome_events_are_read_and_anything_unreadable_is_refused() -> None:
    assert outcome_of(encoded(completed())) == completed()
    assert outcome_of(encoded(decided())) == decided()
    other = Envelope.model_validate(
        {**wrap(completed(), source="x", correlation_id="c").model_dump(), "event_type": "lrs.future.thing.v1"}
    )
    for unreadable in (encode(other), b"{not json", None, b'{"event_id": 1}'):
        assert failure_of(functools.partial(outcome_of, unreadable)) is Failure.POISON


def failure_of(action: Callable[[], object]) -> Failure | None:
    try:
        action()
    except Exception as error:
        return classify_failure(error)
    return None


def test_a_registered_event_of_another_kind_is_ignored() -> None:
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    assert outcome_of(encoded(marker)) is None


def as_stored(event: ViewEvent | None) -> Any:
    """An event as the batch view answers it: a chunk by its summary and its rows, whatever JSON holds them."""
    if not isinstance(event, DecidedChunk):
        return event
    summary = (event.batch_id, event.chunk_index, event.first_line, event.last_line)
    return (*summary, event.accepted, event.rejected, event.no_ops, event.unstorable, event.rows())


def stored(polls: list[list[Any]]) -> list[list[Any]]:
    return [[as_stored(event) for event in poll] for poll in polls]


def model_rows(chunk: BatchRecordsDecided) -> list[dict[str, Any]]:
    """The rows the batch view answered for a chunk when it stored its models' columns."""
    return [
        {
            "batch_id": chunk.batch_id,
            "line": outcome.line,
            "mis_identifier": outcome.mis_identifier,
            "action": outcome.action,
            "uln_masked": outcome.uln_masked,
            "status": outcome.status.value,
            "errors": [finding.model_dump(mode="json") for finding in outcome.errors],
            "warnings": [finding.model_dump(mode="json") for finding in outcome.warnings],
            "achievement_id": outcome.achievement_id,
        }
        for outcome in chunk.outcomes
    ]


def view_of_model(chunk: BatchRecordsDecided) -> Any:
    """What the batch view stores of a chunk the models read: its row, LineOutOfRange for a line past the columns, or LinesRepeated for a chunk
    that names a line twice (refused; before decision 0111 PostgreSQL refused it)."""
    lines = [outcome.line for outcome in chunk.outcomes]
    if lines and max(lines) > LARGEST_LINE:
        return LineOutOfRange
    if len(set(lines)) != len(lines):
        return LinesRepeated
    counts = [sum(outcome.status is status for outcome in chunk.outcomes) for status in RecordStatus]
    first_last = (min(lines), max(lines)) if lines else (None, None)
    rows = model_rows(chunk)
    texts = tuple(
        row[key] for row in rows for key in ("mis_identifier", "action", "uln_masked") if "\x00" in (row[key] or "")
    )
    findings = tuple(
        orjson.dumps(row[key]).decode()
        for row in rows
        for key in ("errors", "warnings")
        if any("\x00" in (finding["field"] or "") + finding["message"] for finding in row[key])
    )
    return (chunk.batch_id, chunk.chunk_index, *first_last, *counts, (texts, findings), rows)


@dataclass
class FakeRepository:
    applied: list[list[Any]] = field(default_factory=list)

    async def apply_outcomes(self, events: list[Any]) -> None:
        self.applied.append(list(events))


def consumer_of(repository: FakeRepository) -> OutcomeConsumer:
    office = DeadLetterOffice(ParkedMessages(None, "ingest_parked"), None)  # type: ignore[arg-type]
    return OutcomeConsumer("kafka:9092", "group", repository, office, DecisionSignal())  # type: ignore[arg-type]


async def test_one_poll_is_stored_in_one_go_and_other_kinds_are_left_out() -> None:
    repository = FakeRepository()
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    messages = [message(encoded(decided()), 1), message(encoded(marker), 2), message(encoded(completed()), 3)]
    await consumer_of(repository).handle(messages)
    assert stored(repository.applied) == [[as_stored(DecidedChunk.of(decided())), completed()]]


def abandoned() -> BatchAbandoned:
    return BatchAbandoned(batch_id=BATCH_ID, ao_id="RN5133", reason="could not be processed", abandoned_at=NOW)


async def test_a_batch_validation_gave_up_on_is_stored_for_the_view() -> None:
    assert outcome_of(encoded(abandoned())) == abandoned()
    assert view_event_of(encoded(abandoned())) == abandoned()
    repository = FakeRepository()
    await consumer_of(repository).handle([message(encoded(decided()), 1), message(encoded(abandoned()), 2)])
    assert stored(repository.applied) == [[as_stored(DecidedChunk.of(decided())), abandoned()]]


async def test_a_poll_of_nothing_for_the_view_touches_nothing() -> None:
    repository = FakeRepository()
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    await consumer_of(repository).handle([message(encoded(marker))])
    assert repository.applied == []


async def test_an_unreadable_event_fails_the_poll_for_the_guard_to_park() -> None:
    repository = FakeRepository()
    with pytest.raises(ValidationError, match="Invalid JSON"):
        await consumer_of(repository).handle([message(encoded(decided()), 1), message(b"garbage", 2)])
    assert repository.applied == []


def test_a_new_group_starts_before_the_oldest_undecided_batch_or_just_before_now() -> None:
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    oldest = datetime(2025, 5, 30, 8, 0, tzinfo=UTC)
    margin = timedelta(minutes=15)
    assert start_timestamp_ms(oldest, now, margin) == int((oldest - margin).timestamp() * 1000)
    assert start_timestamp_ms(None, now, margin) == int((now - margin).timestamp() * 1000)
    assert start_timestamp_ms(now + timedelta(hours=1), now, margin) == int((now - margin).timestamp() * 1000)


@dataclass(frozen=True)
class OffsetAndTimestamp:
    offset: int
    timestamp: int


SINCE = 1_700_000_000_000


@dataclass
class FakeConsumer:
    """Each partition a list of message timestamps. `arriving` messages are appended just after the search
    by time: an outcome published while the listener runs (a batch decided during a cold start)."""

    committed_offsets: dict[TopicPartition, int | None]
    logs: dict[TopicPartition, list[int]]
    arriving: dict[TopicPartition, list[int]] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    asked_since: dict[TopicPartition, int] = field(default_factory=dict)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.committed_offsets[partition]

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: len(self.logs[partition]) for partition in partitions}

    async def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[TopicPartition, Any]:
        self.asked_since.update(timestamps)
        found = {
            partition: next(
                (
                    OffsetAndTimestamp(offset, stamp)
                    for offset, stamp in enumerate(self.logs[partition])
                    if stamp >= since
                ),
                None,
            )
            for partition, since in timestamps.items()
        }
        for partition, stamps in self.arriving.items():
            self.logs[partition].extend(stamps)
        return found

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    async def seek_to_end(self, partition: TopicPartition) -> None:
        self.positions[partition] = len(self.logs[partition])


async def since() -> int:
    return SINCE


class Stored:
    """The positions kept with the view: what a listener read and what it stored."""

    def __init__(self, **kept: int) -> None:
        self.kept = {("t", int(name.removeprefix("p"))): offset for name, offset in kept.items()}
        self.recorded: dict[tuple[str, int], int] = {}

    async def read(self) -> dict[tuple[str, int], int]:
        return dict(self.kept)

    async def record(self, positions: dict[tuple[str, int], int]) -> None:
        self.recorded.update(positions)


async def test_only_partitions_the_group_never_committed_are_moved() -> None:
    committed, found, nothing = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    consumer = FakeConsumer(
        committed_offsets={committed: 7, found: None, nothing: None},
        logs={committed: [0] * 9, found: [SINCE - 1] * 40 + [SINCE, SINCE + 1], nothing: [SINCE - 1] * 3},
    )

    stored = Stored()
    await StartWhereTheViewLeftOff(consumer, since, stored.read, stored.record).on_partitions_assigned(
        {committed, found, nothing}
    )
    assert consumer.positions == {found: 40, nothing: 3}
    assert stored.recorded == {("t", 0): 7, ("t", 1): 40, ("t", 2): 3}  # where each starts, kept with the view
    assert consumer.asked_since == {found: SINCE, nothing: SINCE}


async def test_an_outcome_published_while_the_group_starts_is_not_skipped() -> None:
    empty, older = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = FakeConsumer(
        committed_offsets={empty: None, older: None},
        logs={empty: [], older: [SINCE - 1] * 5},
        arriving={empty: [SINCE + 10], older: [SINCE + 20]},
    )

    stored = Stored()
    await StartWhereTheViewLeftOff(consumer, since, stored.read, stored.record).on_partitions_assigned({empty, older})
    # at the new outcomes, not past them
    assert consumer.positions == {empty: 0, older: 5}


async def test_a_view_restored_to_an_earlier_point_reads_its_outcomes_again_from_there() -> None:
    restored, ahead, never = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    consumer = FakeConsumer(
        committed_offsets={restored: 30, ahead: 12, never: None},
        logs={restored: [0] * 30, ahead: [0] * 12, never: [SINCE - 1] * 2 + [SINCE]},
    )

    stored = Stored(p0=21, p1=12)  # as the restored database holds them

    await StartWhereTheViewLeftOff(consumer, since, stored.read, stored.record).on_partitions_assigned(
        {restored, ahead, never}
    )
    # behind the group: read again from the view's own position; level with it: the group's; never seen: by time
    assert consumer.positions == {restored: 21, never: 2}
    assert stored.recorded == {("t", 2): 2}


async def test_a_second_instance_starting_where_the_first_stored_its_start_is_no_restore() -> None:
    """A partition whose start the first instance stored, and the group has not committed on yet (no outcome since):
    the second instance starts there, and says nothing of a restored database."""
    started = TopicPartition("t", 5)
    consumer = FakeConsumer(committed_offsets={started: None}, logs={started: []})
    stored = Stored(p5=0)

    with capture_logs() as logs:
        await StartWhereTheViewLeftOff(consumer, since, stored.read, stored.record).on_partitions_assigned({started})

    assert consumer.positions == {started: 0}
    assert [log for log in logs if log["event"] == "batch_view_behind_its_group"] == []


FINDINGS = st.lists(
    st.builds(
        Finding, code=st.sampled_from(["RV004", "WV001"]), field=st.none() | st.text(max_size=8), message=st.text()
    ),
    max_size=2,
)
OUTCOMES = st.builds(
    RecordOutcome,
    line=st.integers(min_value=1, max_value=10_000),
    mis_identifier=st.none() | st.text(max_size=20),
    action=st.none() | st.sampled_from(["Create", "Withdraw"]),
    uln_masked=st.none() | st.just("******0043"),
    status=st.sampled_from(RecordStatus),
    errors=FINDINGS.map(tuple),
    warnings=FINDINGS.map(tuple),
    achievement_id=st.none() | st.uuids(),
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OUTCOMES, max_size=20), st.integers(min_value=0, max_value=20))
def test_a_chunk_reads_as_the_registry_reads_it(outcomes: list[RecordOutcome], chunk_index: int) -> None:
    chunk = BatchRecordsDecided(batch_id=BATCH_ID, ao_id="RN5133", chunk_index=chunk_index, outcomes=tuple(outcomes))
    read = outcome_of(encoded(chunk))
    assert read == decode(encoded(chunk))[1] == chunk
    assert isinstance(read, BatchRecordsDecided)
    assert [outcome.model_fields_set for outcome in read.outcomes] == [o.model_fields_set for o in chunk.outcomes]


def test_an_outcome_the_models_refuse_is_refused_as_before() -> None:
    broken = encoded(decided()).replace(b'"status":"accepted"', b'"status":"maybe"')
    with pytest.raises(ValidationError, match="status"):
        outcome_of(broken)
    assert (
        failure_of(lambda: outcome_of(encoded(completed()).replace(b'"accepted":1', b'"accepted":-1')))
        is Failure.POISON
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OUTCOMES, max_size=20, unique_by=lambda outcome: outcome.line), st.integers(min_value=0, max_value=20))
def test_a_chunk_is_stored_as_the_columns_of_its_models(outcomes: list[RecordOutcome], chunk_index: int) -> None:
    chunk = BatchRecordsDecided(batch_id=BATCH_ID, ao_id="RN5133", chunk_index=chunk_index, outcomes=tuple(outcomes))
    raw = encoded(chunk)
    from_json = decided_chunk_of_json(json.loads(raw), raw)
    assert from_json.outcomes is raw  # the message itself is stored
    assert as_stored(from_json) == as_stored(DecidedChunk.of(chunk)) == view_of_model(chunk)
    assert as_stored(view_event_of(raw)) == view_of_model(chunk)


def test_a_chunk_that_names_a_line_twice_is_refused_whichever_path_reads_it() -> None:
    twice = decided().model_copy(update={"outcomes": decided().outcomes * 2})
    with pytest.raises(LinesRepeated):
        view_event_of(encoded(twice))
    with pytest.raises(LinesRepeated):
        DecidedChunk.of(twice)
    assert failure_of(lambda: view_event_of(encoded(twice))) is Failure.POISON


def test_a_nul_character_in_a_text_or_finding_is_kept_for_postgresql_to_refuse() -> None:
    finding = Finding(code="RV004", field="grade", message="un\x00known")
    outcome = RecordOutcome(line=1, status=RecordStatus.REJECTED, mis_identifier="CAND\x00-1", errors=(finding,))
    plain = RecordOutcome(line=2, status=RecordStatus.ACCEPTED, mis_identifier="CAND\\u0000-2")
    chunk = decided().model_copy(update={"outcomes": (outcome, plain)})
    texts, findings = ("CAND\x00-1",), (json.dumps([finding.model_dump(mode="json")], separators=(",", ":")),)
    assert view_event_of(encoded(chunk)).unstorable == (texts, findings)  # type: ignore[union-attr]
    assert DecidedChunk.of(chunk).unstorable == (texts, findings)
    # a backslash before `u0000` is no NUL
    assert view_event_of(encoded(decided().model_copy(update={"outcomes": (plain,)}))).unstorable == ((), ())  # type: ignore[union-attr]


VIEW_EVENTS = [BatchValidationStarted, BatchRecordsDecided, BatchCompleted, BatchFailed]


@pytest.mark.parametrize("model", VIEW_EVENTS, ids=lambda model: model.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii_only=st.booleans())
def test_any_outcome_the_schema_snapshot_allows_is_stored_as_the_models_read_it(
    model: type[Any], data: st.DataObject, ascii_only: bool
) -> None:
    """Events generated from the committed schema snapshots (`contracts/schemas/`), as validation writes
    them or spelt otherwise: what the batch view stores equals what it stored from the validated models."""
    event_type = model.model_fields["event_type"].default
    raw = json.dumps(data.draw(envelopes(event_type)), ensure_ascii=ascii_only).encode()
    expected = outcome_of(raw)
    assert isinstance(expected, model)
    if isinstance(expected, BatchRecordsDecided):
        view = view_of_model(expected)
        if view in (LinesRepeated, LineOutOfRange):
            with pytest.raises(view):
                view_event_of(raw)
            return
        assert as_stored(view_event_of(raw)) == view
        assert as_stored(decided_chunk_of_json(json.loads(raw), raw)) == view
    else:
        assert view_event_of(raw) == expected


def test_an_outcome_the_models_refuse_is_not_stored() -> None:
    broken = encoded(decided()).replace(b'"status":"accepted"', b'"status":"maybe"')
    with pytest.raises(ValidationError, match="status"):
        view_event_of(broken)
    too_few = encoded(completed()).replace(b'"accepted":1', b'"accepted":-1')
    assert failure_of(lambda: view_event_of(too_few)) is Failure.POISON
    for unreadable in (b"{not json", None, b'{"event_id": 1}'):
        assert failure_of(functools.partial(view_event_of, unreadable)) is Failure.POISON
    marker = BatchSubmissionCompleted(batch_id=BATCH_ID, ao_id="RN5133", record_count=1, chunk_count=1)
    assert view_event_of(encoded(marker)) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), change=st.sampled_from(["remove", "add", "replace"]), replacement=JSON_VALUES)
def test_a_chunk_the_models_refuse_is_refused_and_one_they_read_is_stored_as_they_read_it(
    data: st.DataObject, change: str, replacement: Any
) -> None:
    document = data.draw(envelopes(DecidedChunk.event_type))
    paths = json_paths(document)[1:]
    # mostly within the record outcomes, which the batch view checks itself
    within = [path for path in paths if path[:2] == ("data", "outcomes") and len(path) > 2]
    mostly_within = bool(within) and data.draw(st.integers(0, 3)) > 0
    path = data.draw(st.sampled_from(within if mostly_within else paths))
    mutate(document, path, change, replacement)
    _read_as_the_models_read_it(json.dumps(document).encode())


A_RECORD = {
    "line": 4,
    "mis_identifier": "MIS-1",
    "action": "Create",
    "uln_masked": "******0043",
    "status": "rejected",
    "errors": [{"code": "RV004", "field": "grade", "message": "unknown grade"}],
    "warnings": [],
    "achievement_id": None,
}
EDITS: list[dict[str, Any]] = [
    {"line": 0},
    {"line": -3},
    {"line": "4"},
    {"line": True},
    {"line": 4.0},
    {"status": "maybe"},
    {"status": "ACCEPTED"},
    {"mis_identifier": 5},
    {"action": ["Create"]},
    {"uln_masked": 43},
    {"errors": None},
    {"errors": {}},
    {"errors": [{"code": "XX004", "message": "m"}]},
    {"errors": [{"code": "RV004\n", "message": "m"}]},
    {"errors": [{"code": "RV0044", "message": "m"}]},
    {"errors": [{"code": "RV004", "message": "m", "extra": 1}]},
    {"errors": [{"code": "RV004", "field": 1, "message": "m"}]},
    {"errors": [{"code": "RV004"}]},
    {"warnings": [{"code": "WV001", "message": "m"}]},
    {"achievement_id": "not-a-uuid"},
    {"achievement_id": "6F0C8A52-4F8E-5D39-9A43-2F1B1E7A9D10"},
    {"achievement_id": "6f0c8a524f8e5d399a432f1b1e7a9d10"},
    {"achievement_id": 7},
    {"achievement_id": ""},
    {"achievement_id": "6f0c8a52-4f8e-5d39-9a43-2f1b1e7a9d10,6f0c8a52-4f8e-5d39-9a43-2f1b1e7a9d1"},
    {"achievement_id": "6f0c8a52-4f8e-5d39-9a43-2f1b1e7a9d10,"},
    {"unexpected": 1},
]


@pytest.mark.parametrize("edit", [*EDITS, {"line": None}, "no status", "no line", "no errors"], ids=str)
def test_a_record_outcome_the_models_refuse_is_refused_and_any_other_stored_as_they_read_it(edit: Any) -> None:
    record = dict(A_RECORD)
    if isinstance(edit, dict):
        record.update(edit)
    else:
        del record[edit.removeprefix("no ")]
    document = json.loads(encoded(decided()))
    document["data"]["outcomes"] = [A_RECORD, record]
    _read_as_the_models_read_it(json.dumps(document).encode())


def _read_as_the_models_read_it(raw: bytes) -> None:
    """The batch view refuses what the models refuse, with the same error, and reads the rest as they do."""
    try:
        expected = outcome_of(raw)
    except ValueError as refused:
        with pytest.raises(type(refused)):
            view_event_of(raw)
        return
    if isinstance(expected, BatchRecordsDecided) and (view := view_of_model(expected)) in (
        LinesRepeated,
        LineOutOfRange,
    ):
        with pytest.raises(view):
            view_event_of(raw)
        return
    assert as_stored(view_event_of(raw)) == (
        view_of_model(expected) if isinstance(expected, BatchRecordsDecided) else expected
    )
