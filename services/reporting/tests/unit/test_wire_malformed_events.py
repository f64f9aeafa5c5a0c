"""Reporting reads of a PLR event or a decided chunk exactly what the contract models read: one written otherwise,
or broken, is read as the validating decoder reads it, and one the models refuse is poison, as the PLR projector
parks it (decision 0099)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.malformed_events import ULN, WRITTEN_OTHERWISE, Mutation

from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import decode, encode, wrap
from reporting.store import PlrLogWrite
from reporting.wire import ACHIEVEMENT_EVENTS, PlrLogWrites, parse, rejection_codes_of

# The ways of tests.support.malformed_events and those of this reader's own events.
MUTATIONS: dict[str, Mutation] = {
    **WRITTEN_OTHERWISE,
    "a second QAN in the key": lambda v: v.replace(b'"award_date":', b'"qualification_number":"Y","award_date":', 1),
    "a second batch": lambda v: v.replace(b'"line":', b'"batch_id":"00000000-0000-4000-8000-000000000000","line":', 1),
    "a second type": lambda v: v.replace(b'"level":', b'"qualification_type":"Other","level":', 1),
    "a second chunk index": lambda v: v.replace(b'"outcomes":', b'"chunk_index":9,"outcomes":', 1),
    "a batch id in capitals": lambda v: re.sub(rb'(?<="batch_id":")[0-9a-f-]{36}', lambda m: m[0].upper(), v),
    "a code outside its pattern": lambda v: re.sub(rb'"code":"RV[0-9]{3}"', b'"code":"RX001"', v, count=1),
    "a chunk index below 0": lambda v: re.sub(rb'"chunk_index":[0-9]+', b'"chunk_index":-1', v, count=1),
    "an unknown outcome field": lambda v: v.replace(b'"status":"', b'"extra":null,"status":"', 1),
}

texts = st.text(st.sampled_from(['"', "\\", "é", "😀", "\x7f", "a", "7", " ", ",", ":", "}"]), max_size=4)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@st.composite
def achievement_events(draw: st.DrawFn) -> Contract:
    key = AchievementKey(
        ao_id="RN" + draw(texts),
        uln=ULN,
        qualification_number=draw(st.sampled_from(["60000001", "Y5001234"])),
        award_date=date(2024, 5, 20),
    )
    common = {
        "achievement_id": uuid.uuid4(),
        "key": key,
        "provenance": Provenance(batch_id=uuid.uuid4(), line=draw(st.integers(1, 10**6)), mis_identifier=draw(texts)),
    }
    data = AchievementData(grade="A" + draw(texts))
    kind = draw(st.sampled_from(["recorded", "updated", "superseded", "withdrawn", "reinstated"]))
    if kind == "recorded":
        summary = QualificationSummary(
            title="GCSE " + draw(texts),
            qualification_type="GCSE" + draw(texts),
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="AQA",
        )
        return AchievementRecorded(**common, data=data, status=ResultStatus.FINAL, qualification=summary)
    if kind == "updated":
        return AchievementUpdated(**common, data=data, status=ResultStatus.PROVISIONAL)
    if kind == "superseded":
        return AchievementSuperseded(**common, data=data)
    if kind == "withdrawn":
        return AchievementWithdrawn(**common)
    return AchievementReinstated(**common)


def by_the_models(value: bytes, timestamp_ms: int) -> tuple[set[PlrLogWrite], dict[str, str]]:
    """What the validated models say an event adds to the log's writes."""
    envelope, event = decode(value)  # an unknown type is refused (UnknownEventType), as the reader refuses it
    assert isinstance(event, ACHIEVEMENT_EVENTS)
    written_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms > 0 else envelope.occurred_at
    qan = event.key.qualification_number
    write = PlrLogWrite(event.provenance.batch_id, qan, event.key.ao_id, written_at)
    types = {qan: event.qualification.qualification_type} if isinstance(event, AchievementRecorded) else {}
    return {write}, types


@settings(max_examples=400, deadline=None)
@given(
    achievement_events(),
    moments,
    st.sampled_from([-1, 0, 1_700_000_000_123]),
    st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=2),
)
def test_a_plr_event_adds_what_the_validated_models_add_or_is_poison_as_they_refuse_it(
    event: Contract, occurred_at: datetime, timestamp_ms: int, mutations: list[str]
) -> None:
    value = encode(wrap(event, source="validation", correlation_id="batch", occurred_at=occurred_at))
    for mutation in mutations:
        value = MUTATIONS[mutation](value)
    log = PlrLogWrites()
    try:
        expected = by_the_models(value, timestamp_ms)
    except ValueError:
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's or orjson's refusal: poison, the consumer parks it
            log.add(value, timestamp_ms)
        return
    log.add(value, timestamp_ms)
    assert (set(log.writes()), log.types) == expected


findings = st.lists(st.sampled_from(["RV001", "RV012", "WV003"]), max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(list(RecordStatus)), findings, texts), min_size=1, max_size=10),
    moments,
    st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=2),
)
def test_a_chunks_rejections_are_what_the_validated_models_say_or_it_is_poison_as_they_refuse_it(
    drawn: list[tuple[RecordStatus, list[str], str]], occurred_at: datetime, mutations: list[str]
) -> None:
    outcomes = tuple(
        RecordOutcome(
            line=line,
            mis_identifier=text,
            status=status,
            errors=tuple(Finding(code=code, message=text) for code in codes),
        )
        for line, (status, codes, text) in enumerate(drawn, start=1)
    )
    chunk = BatchRecordsDecided(batch_id=uuid.uuid4(), ao_id="RN5133", chunk_index=3, outcomes=outcomes)
    value = encode(wrap(chunk, source="validation", correlation_id="batch", occurred_at=occurred_at))
    for mutation in mutations:
        value = MUTATIONS[mutation](value)
    try:
        document = parse(value)
    except ValueError:
        return  # not JSON: poison before it is read as a chunk
    try:
        _, validated = decode(value)
    except ValueError:
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's or orjson's refusal: poison, the consumer parks it
            rejection_codes_of(value, document)
        return
    assert isinstance(validated, BatchRecordsDecided)
    rejected: dict[str, int] = {}
    for outcome in validated.outcomes:
        if outcome.status is RecordStatus.REJECTED:
            for code in {finding.code for finding in outcome.errors}:
                rejected[code] = rejected.get(code, 0) + 1
    assert rejection_codes_of(value, document) == (validated.batch_id, validated.chunk_index, rejected)
