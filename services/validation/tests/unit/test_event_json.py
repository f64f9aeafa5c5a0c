"""Validation writes each event's JSON exactly as pydantic's serialiser (`payload_json`) writes it, from
pieces a batch shares (decision 0096): on events generated from the schema snapshots, and on a batch's
events sharing their result data and qualification facts."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticSerializationError
from tests.support.event_examples import envelopes

from lrs_contracts.fast_decode import payload_json
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import EVENT_TYPES
from validation.event_json import EventJson, records_decided_json

ACHIEVEMENT_EVENTS = [event_type for event_type in EVENT_TYPES if event_type.startswith("lrs.achievement.")]
WRITER = EventJson()  # one for every example: what it remembers of earlier events must not leak into later ones


@pytest.mark.parametrize("event_type", ACHIEVEMENT_EVENTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_achievement_event_is_written_as_pydantic_writes_it(event_type: str, data: st.DataObject) -> None:
    event = EVENT_TYPES[event_type].model_validate(data.draw(envelopes(event_type))["data"])
    assert WRITER(event) == payload_json(event)


SHARED_DATA = [
    AchievementData(grade=grade, ukprn="10001234", language_for_assessment=language)
    for grade in ("9", "5", "Distinction*")
    for language in ("English", "Welsh", None)
]
SHARED_FACTS = [
    QualificationSummary(title="GCSE \"Maths\" — Tier\n2", qualification_type="GCSE (9 to 1)", framework="RQF", kind="q",
                         awarding_organisation_name="Pearson"),
    QualificationSummary(title="Diploma", qualification_type="VRQ", level="Level 3", framework="QCF", kind="u",
                         awarding_organisation_name="AQA \\ Ltd"),
]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(SHARED_DATA) - 1), st.integers(0, 1), st.text(max_size=20) | st.none())
    ),
    line=st.integers(1, 2**70),
)
def test_a_batch_of_new_achievements_sharing_their_data_is_written_as_pydantic_writes_it(
    picks: list[tuple[int, int, str | None]], line: int
) -> None:
    writer = EventJson()
    batch_id = uuid.uuid4()
    for number, (data, facts, mis_identifier) in enumerate(picks):
        event = _recorded(batch_id, line + number, SHARED_DATA[data], SHARED_FACTS[facts], mis_identifier)
        assert writer(event) == payload_json(event)


def test_an_event_s_json_holds_no_more_memory_than_its_bytes() -> None:
    """A batch's events' JSON waits for its end marker: 10,000 of them, each held in an 8 KB buffer, were
    ~30 MB more at the decider's peak."""
    writer = EventJson()
    events = [
        _recorded(uuid.uuid4(), line, SHARED_DATA[line % 3], SHARED_FACTS[0], f"MIS-{line}") for line in range(1, 101)
    ]
    for event in events:
        writer(event)  # the shared pieces are written once, before what is measured
    tracemalloc.start()
    try:
        written = [writer(event) for event in events]
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 2 * sum(len(json) for json in written)


def test_text_pydantic_cannot_write_is_refused_as_pydantic_refuses_it() -> None:
    event = _recorded(uuid.uuid4(), 4, SHARED_DATA[0], SHARED_FACTS[0], "\ud800")
    with pytest.raises(PydanticSerializationError):
        payload_json(event)
    with pytest.raises(PydanticSerializationError):
        EventJson()(event)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_chunk_of_outcomes_is_written_as_pydantic_writes_it(data: st.DataObject) -> None:
    chunk = BatchRecordsDecided.model_validate(data.draw(envelopes("lrs.batch.records.decided.v1"))["data"])
    assert records_decided_json(chunk) == payload_json(chunk)


def test_outcomes_changed_after_they_were_built_are_written_as_pydantic_writes_them() -> None:
    finding = Finding(code="RV004", field="uln", message="the learner's details could not be read")
    rejected = RecordOutcome(line=5, status=RecordStatus.REJECTED, uln_masked="******0043").model_copy(
        update={"errors": (finding,)}
    )
    chunk = BatchRecordsDecided.model_construct(
        batch_id=uuid.uuid4(), ao_id="RN5133", chunk_index=0, outcomes=(rejected, RecordOutcome(line=6, status="no_op"))
    )
    assert records_decided_json(chunk) == payload_json(chunk)


def test_an_outcome_pydantic_cannot_write_is_refused_as_pydantic_refuses_it() -> None:
    broken = RecordOutcome(line=5, mis_identifier="\udfff", status=RecordStatus.ACCEPTED)
    chunk = BatchRecordsDecided(batch_id=uuid.uuid4(), ao_id="RN5133", chunk_index=0, outcomes=(broken,))
    with pytest.raises(PydanticSerializationError):
        payload_json(chunk)
    with pytest.raises(PydanticSerializationError):
        records_decided_json(chunk)


def _recorded(
    batch_id: uuid.UUID, line: int, data: AchievementData, facts: QualificationSummary, mis_identifier: Any
) -> AchievementRecorded:
    return AchievementRecorded.model_construct(
        achievement_id=uuid.uuid4(),
        key=AchievementKey(
            ao_id="RN5133", uln="1000000043", qualification_number="60303049", award_date=date(2024, 8, 22)
        ),
        data=data,
        status=ResultStatus.FINAL,
        qualification=facts,
        provenance=Provenance.model_construct(batch_id=batch_id, line=line, mis_identifier=mis_identifier),
    )
