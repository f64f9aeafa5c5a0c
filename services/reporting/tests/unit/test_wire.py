"""Reading the PLR log and decided chunks as JSON gives what the validated models give (decision 0037)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lrs_contracts.envelope import Contract
from lrs_contracts.fast_decode import scanned_rejections_by_code
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import UnknownEventType, decode, encode, wrap
from lrs_platform.consumer import Attempts, Poisoned, RetryPolicy
from reporting.store import PlrLogWrite
from reporting.wire import (
    DECIDED_CHUNK,
    PlrLogWrites,
    event_type_in,
    parse,
    rejection_codes_of,
)

BATCHES = [uuid.UUID(int=n) for n in (1, 2)]
QANS = ["60000001", "60000002", "Y5001234"]
TYPES = ["GCSE", "A level"]
DECIDED = datetime(2023, 5, 22, 10, tzinfo=UTC)


def message(payload: Contract, occurred_at: datetime = DECIDED) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id="it", occurred_at=occurred_at))


def achievement(kind: str, batch_id: uuid.UUID, qan: str, qualification_type: str) -> Contract:
    key = AchievementKey(ao_id="RN5133", uln="1000000043", qualification_number=qan, award_date=date(2023, 5, 1))
    common = {"achievement_id": uuid.uuid4(), "key": key, "provenance": Provenance(batch_id=batch_id, line=3)}
    data = AchievementData(grade="A", ukprn="10000001")
    if kind == "recorded":
        summary = QualificationSummary(
            title="A qualification",
            qualification_type=qualification_type,
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="An AO",
        )
        return AchievementRecorded(**common, data=data, status=ResultStatus.FINAL, qualification=summary)
    if kind == "updated":
        return AchievementUpdated(**common, data=data, status=ResultStatus.FINAL)
    if kind == "superseded":
        return AchievementSuperseded(**common, data=data)
    if kind == "withdrawn":
        return AchievementWithdrawn(**common)
    if kind == "reinstated":
        return AchievementReinstated(**common)
    return CentreAchievementReported(
        report_id=uuid.uuid4(), uln="1000000043", provider_ukprn="10000001", qualification_number=qan
    )


def by_the_models(events: list[tuple[bytes, int]]) -> tuple[set[PlrLogWrite], dict[str, str]]:
    """What reporting kept of the log when it validated every event (the fold before decision 0037)."""
    latest: dict[tuple[uuid.UUID, str], PlrLogWrite] = {}
    types: dict[str, str] = {}
    for value, timestamp_ms in events:
        envelope, event = decode(value)
        if isinstance(event, CentreAchievementReported):
            continue
        assert isinstance(
            event,
            AchievementRecorded
            | AchievementUpdated
            | AchievementSuperseded
            | AchievementWithdrawn
            | AchievementReinstated,
        )
        if isinstance(event, AchievementRecorded):
            types[event.key.qualification_number] = event.qualification.qualification_type
        written_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms > 0 else envelope.occurred_at
        slot = (event.provenance.batch_id, event.key.qualification_number)
        if slot not in latest or latest[slot].written_at < written_at:
            latest[slot] = PlrLogWrite(slot[0], slot[1], event.key.ao_id, written_at)
    return set(latest.values()), types


log_events = st.lists(
    st.tuples(
        st.sampled_from(["recorded", "updated", "superseded", "withdrawn", "reinstated", "centre"]),
        st.sampled_from(BATCHES),
        st.sampled_from(QANS),
        st.sampled_from(TYPES),
        st.integers(min_value=0, max_value=10**6),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(log_events)
def test_the_log_read_as_json_keeps_what_the_validated_models_keep(
    drawn: list[tuple[str, uuid.UUID, str, str, int, bool]],
) -> None:
    base_ms = int(DECIDED.timestamp() * 1000)
    events = [
        (
            message(achievement(kind, batch_id, qan, qualification_type), DECIDED + timedelta(microseconds=offset)),
            -1 if without_broker_time else base_ms + offset,
        )
        for kind, batch_id, qan, qualification_type, offset, without_broker_time in drawn
    ]
    log = PlrLogWrites()
    for value, timestamp_ms in events:
        log.add(value, timestamp_ms)
    assert (set(log.writes()), log.types) == by_the_models(events)


@settings(max_examples=150, deadline=None)
@given(log_events, st.sets(st.sampled_from(QANS)))
def test_the_log_read_from_the_heads_keeps_what_the_validated_models_keep(
    drawn: list[tuple[str, uuid.UUID, str, str, int, bool]], known_types: set[str]
) -> None:
    """Recordings of a qualification whose type is known are read from their heads like the other events:
    the same writes, and the types of the others."""
    base_ms = int(DECIDED.timestamp() * 1000)
    events = [
        (
            message(achievement(kind, batch_id, qan, qualification_type), DECIDED + timedelta(microseconds=offset)),
            -1 if without_broker_time else base_ms + offset,
        )
        for kind, batch_id, qan, qualification_type, offset, without_broker_time in drawn
    ]
    log = PlrLogWrites(known_types)
    for value, timestamp_ms in events:
        log.add(value, timestamp_ms)
    writes, types = by_the_models(events)
    assert (set(log.writes()), log.types) == (
        writes,
        {qan: kind for qan, kind in types.items() if qan not in known_types},
    )


def test_an_event_whose_provenance_is_written_otherwise_is_parsed_whole() -> None:
    value = message(achievement("withdrawn", BATCHES[0], QANS[0], "GCSE"))
    escaped = value.replace(str(BATCHES[0]).encode(), str(BATCHES[0]).encode().replace(b"-", b"\\u002d"))
    log = PlrLogWrites()
    log.add(escaped, 1_000)
    assert [write.batch_id for write in log.writes()] == [BATCHES[0]]


def test_a_batch_id_spelled_in_capitals_is_the_same_batch_and_the_later_write_is_kept() -> None:
    first = message(achievement("recorded", BATCHES[0], QANS[0], "GCSE"))
    again = first.replace(str(BATCHES[0]).encode(), str(BATCHES[0]).upper().encode())
    log = PlrLogWrites()
    log.add(again, 2_000)
    log.add(first, 1_000)
    [write] = log.writes()
    assert (write.batch_id, write.written_at) == (BATCHES[0], datetime.fromtimestamp(2, UTC))


def test_an_event_the_log_could_not_have_carried_is_poison_and_so_is_an_unknown_type() -> None:
    """An unknown type is a newer release's event: refused, for the guard to park it at its first attempt as
    `unknown event type '…'` (docs/deploy.md, "Upgrade"), where it was passed over."""
    valid = orjson.loads(message(achievement("withdrawn", BATCHES[0], QANS[0], "GCSE")))
    log = PlrLogWrites()
    with pytest.raises(ValueError, match="JSON"):  # orjson's or pydantic's: poison either way
        log.add(b"not json", 1)
    with pytest.raises(ValidationError):
        log.add(orjson.dumps({**valid, "data": {**valid["data"], "key": "not an object"}}), 1)
    with pytest.raises(UnknownEventType):
        log.add(orjson.dumps({**valid, "event_type": "lrs.achievement.renamed.v9"}), 1)
    assert log.writes() == []


async def test_a_message_that_is_not_json_is_parked_at_its_first_attempt_as_failing_its_contract() -> None:
    """As every consumer parks it (docs/events.md, `lrs-error`): reporting tried it three times and parked it as
    `JSONDecodeError: …`."""
    attempts = Attempts("reporting-not-json", RetryPolicy(base_seconds=0, max_seconds=0))
    for value in (b"not json", b"\xff\xfe", b'{"event_type": "lrs.batch.completed.v1",'):

        async def read(value: bytes = value) -> None:
            parse(value)

        outcome = await attempts.run(read)
        assert isinstance(outcome, Poisoned) and outcome.attempts == 1, outcome
        assert outcome.error.startswith("invalid: Invalid JSON: "), outcome


def chunk_message(*outcomes: RecordOutcome) -> bytes:
    return message(BatchRecordsDecided(batch_id=BATCHES[0], ao_id="RN5133", chunk_index=4, outcomes=outcomes))


def test_rejection_codes_count_each_code_once_per_rejected_record() -> None:
    def record(line: int, status: RecordStatus, *codes: str) -> RecordOutcome:
        errors = tuple(Finding(code=code, message="x") for code in codes)
        return RecordOutcome(line=line, status=status, errors=errors)

    value = chunk_message(
        record(1, RecordStatus.REJECTED, "RV001", "RV002", "RV001"),
        record(2, RecordStatus.REJECTED, "RV001"),
        record(3, RecordStatus.ACCEPTED),
        record(4, RecordStatus.NO_OP, "RV009"),
    )
    document = parse(value)
    assert event_type_in(document) == DECIDED_CHUNK
    assert rejection_codes_of(value, document) == (BATCHES[0], 4, {"RV001": 2, "RV002": 1})


def test_a_chunk_not_written_as_validation_writes_it_is_validated_and_a_broken_one_is_poison() -> None:
    value = chunk_message(
        RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(Finding(code="RV001", message="x"),))
    )
    capitals = value.replace(str(BATCHES[0]).encode(), str(BATCHES[0]).upper().encode())
    assert rejection_codes_of(capitals, parse(capitals)) == (BATCHES[0], 4, {"RV001": 1})
    broken = value.replace(b'"code":"RV001",', b"")
    with pytest.raises(ValidationError):
        rejection_codes_of(broken, parse(broken))


awkward_text = st.lists(
    st.sampled_from(['"', "\\", "]", "}", ",", ":", "é", "a", '"status":"rejected","errors":[']), max_size=6
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(RecordStatus)),
            st.lists(st.sampled_from(["RV001", "RV012", "WV003"]), max_size=3),
            awkward_text,
        ),
        max_size=30,
    ),
    awkward_text,
)
def test_a_chunk_scanned_for_its_rejected_records_counts_what_reading_it_whole_counts(
    drawn: list[tuple[RecordStatus, list[str], str]], ao_suffix: str
) -> None:
    outcomes = tuple(
        RecordOutcome(
            line=line,
            mis_identifier=text,
            status=status,
            errors=tuple(Finding(code=code, field=text, message=text) for code in codes),
        )
        for line, (status, codes, text) in enumerate(drawn, start=1)
    )
    value = message(BatchRecordsDecided(batch_id=BATCHES[1], ao_id=f"RN{ao_suffix}", chunk_index=7, outcomes=outcomes))
    whole = rejection_codes_of(value, parse(value))
    if '"' in ao_suffix or "\\" in ao_suffix:  # an AO id with an escape: the head is left to the full reading
        assert scanned_rejections_by_code(value) is None
    else:
        assert scanned_rejections_by_code(value) == whole


def test_only_a_decided_chunk_written_as_validation_writes_it_is_scanned() -> None:
    value = chunk_message(
        RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(Finding(code="RV001", message="x"),))
    )
    assert scanned_rejections_by_code(value) == (BATCHES[0], 4, {"RV001": 1})
    assert scanned_rejections_by_code(message(achievement("withdrawn", BATCHES[0], QANS[0], "GCSE"))) is None
    # the rejected record's fields in another order: read whole
    reordered = orjson.loads(value)
    reordered["data"]["outcomes"] = [{"errors": [{"code": "RV001", "message": "x"}], "line": 1, "status": "rejected"}]
    assert scanned_rejections_by_code(orjson.dumps(reordered)) is None
    # what the models refuse is left to them: a time at another offset, a code out of its pattern, bytes after it
    assert scanned_rejections_by_code(value.replace(b'Z","source"', b'+01:00","source"', 1)) is None
    assert scanned_rejections_by_code(value.replace(b'"code":"RV001"', b'"code":"XX001"', 1)) is None
    assert scanned_rejections_by_code(value + b" ") is None
