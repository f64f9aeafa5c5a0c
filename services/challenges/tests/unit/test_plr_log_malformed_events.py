"""The fast path takes exactly what the contract models take: an achievement event written otherwise, or broken,
is read as the validating decode reads it, and one the models refuse is poison, as the PLR projector parks it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.malformed_events import ULN, WRITTEN_OTHERWISE, Mutation

from challenges.plr_log import PolledEvents, read_poll
from lrs_contracts.envelope import Contract
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
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.consumer import Failure, Message, classify_failure

# The ways of tests.support.malformed_events and those of this reader's own events.
MUTATIONS: dict[str, Mutation] = {
    **WRITTEN_OTHERWISE,
    "a second id in the payload": lambda v: v.replace(
        b',"key":', b',"achievement_id":"00000000-0000-4000-8000-000000000000","key":', 1
    ),
    "a second AO in the key": lambda v: re.sub(rb'("ao_id":"[^"]*")', rb'\1,"ao_id":"RN2"', v, count=1),
    "a second grade": lambda v: v.replace(b'"ukprn":', b'"grade":"Z","ukprn":', 1),
    "a brace after it": lambda v: v + b"}",
    "a ULN of eleven digits": lambda v: v.replace(f'"uln":"{ULN}"'.encode(), b'"uln":"10000000430"'),
    "an achievement id without hyphens": lambda v: re.sub(
        rb'(?<="achievement_id":")[0-9a-f-]{36}', lambda m: m[0].replace(b"-", b""), v
    ),
    "an empty correlation id": lambda v: re.sub(rb'"correlation_id":"[^"]*"', b'"correlation_id":""', v, count=1),
    "schema version 01": lambda v: v.replace(b'"schema_version":1', b'"schema_version":01', 1),
    "schema version 2": lambda v: v.replace(b'"schema_version":1', b'"schema_version":2', 1),
    "credits as a number": lambda v: v.replace(b'"credits":null', b'"credits":-12', 1),
    "a control character": lambda v: v.replace(b'"ao_id":"', b'"ao_id":"\x01', 1),
}

# What validation may write all the same: the fast path reads it. (An envelope of schema version 2 is not: no
# release reads one, and every reader parks it.)
AS_VALIDATION_WRITES = {"credits as a number"}
texts = st.text(st.sampled_from(['"', "\\", "é", "😀", "\x7f", "a", "7", " ", ",", ":", "}"]), max_size=4)


@st.composite
def achievement_events(draw: st.DrawFn) -> Contract:
    key = AchievementKey(
        ao_id="RN" + draw(texts), uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20)
    )
    common = {
        "achievement_id": uuid.uuid4(),
        "key": key,
        "provenance": Provenance(batch_id=uuid.uuid4(), line=draw(st.integers(1, 10**6)), mis_identifier=draw(texts)),
    }
    data = AchievementData(grade="A" + draw(texts), ukprn=draw(st.none() | st.just("10000001")))
    kind = draw(st.sampled_from(["recorded", "updated", "superseded", "withdrawn", "reinstated"]))
    if kind == "recorded":
        summary = QualificationSummary(
            title="GCSE " + draw(texts),
            qualification_type="GCSE",
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


def changes_of(value: bytes) -> PolledEvents:
    return read_poll([Message(PLR_EVENTS.name, 0, 0, ULN.encode(), value)])


@settings(max_examples=400, deadline=None)
@given(
    achievement_events(),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=2),
)
def test_a_message_is_read_as_the_validating_decode_reads_it_or_is_poison_as_the_models_refuse_it(
    event: Contract, occurred_at: datetime, mutations: list[str]
) -> None:
    value = encode(wrap(event, source="validation", correlation_id="batch", occurred_at=occurred_at))
    for mutation in mutations:
        value = MUTATIONS[mutation](value)
    try:
        decode(value)
    except ValueError:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - what matters is how the consumer classifies it
            changes_of(value)
        assert classify_failure(raised.value) is Failure.POISON
        return
    validated = changes_of(b" " + value)  # the same JSON, not as validation writes it: the validating path
    assert changes_of(value) == validated


@pytest.mark.parametrize("mutation", sorted(set(MUTATIONS) - AS_VALIDATION_WRITES))
def test_no_message_written_otherwise_is_read_by_the_fast_path(mutation: str) -> None:
    event = AchievementUpdated(
        achievement_id=uuid.uuid4(),
        key=AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20)),
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        provenance=Provenance(batch_id=uuid.uuid4(), line=1),
    )
    written = encode(wrap(event, source="validation", correlation_id="batch", occurred_at=datetime.now(UTC)))
    value = MUTATIONS[mutation](written)
    assert value != written
    assert changes_of(written).achievement_ids()[0].__class__ is not uuid.UUID, "read by the fast path"
    try:
        read = changes_of(value)
    except Exception:  # refused: not read by the fast path either
        return
    assert all(achievement_id.__class__ is uuid.UUID for achievement_id in read.achievement_ids()), "decoded in full"


def test_a_batch_whose_second_event_is_at_no_time_is_poison() -> None:
    """The time of each event is checked, not only the first of its batch's."""
    batch = Provenance(batch_id=uuid.uuid4(), line=1)
    key = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20))
    first, second = (
        encode(
            wrap(
                AchievementWithdrawn(achievement_id=uuid.uuid4(), key=key, provenance=batch),
                source="validation",
                correlation_id="batch",
                occurred_at=datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=n),
            )
        )
        for n in range(2)
    )
    broken = MUTATIONS["occurred_at at another offset"](second)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - what matters is how the consumer classifies it
        read_poll([Message(PLR_EVENTS.name, 0, n, ULN.encode(), v) for n, v in enumerate((first, broken))])
    assert classify_failure(raised.value) is Failure.POISON
