"""The plain path (`decode_plain_achievements` + `project_plain`) gives exactly the rows of the full
path (`decode_message` + `project_batch`), and leaves to the full path every batch it cannot fold."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.projector import summary

from lrs_contracts.envelope import Contract
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
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import (
    LEARNER_TOPIC,
    PLR_TOPIC,
    BatchChanges,
    Message,
    OperatorAction,
    Snapshot,
    decode_message,
    decode_plain_achievements,
    project_batch,
    project_plain,
)

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
ULNS = ("1000000043", "1026893096")
QANS = ("6001166X", "60012345")
GRADES = ("4", "7", "9")
SUMMARY = summary()


def _key(uln: str, qan: str) -> AchievementKey:
    return AchievementKey(ao_id="RN5133", uln=uln, qualification_number=qan, award_date=date(2024, 5, 20))


@st.composite
def achievement_events(draw: st.DrawFn) -> Contract:
    uln, qan = draw(st.sampled_from(ULNS)), draw(st.sampled_from(QANS))
    key = _key(uln, qan)
    # Mostly the key's own id; sometimes another, which the fold refuses.
    other = draw(st.sampled_from((0, 0, 0, 1)))
    achievement_id = uuid.UUID(int=100 * other + 10 * ULNS.index(uln) + QANS.index(qan))
    provenance = Provenance(batch_id=uuid.UUID(int=draw(st.integers(1, 2))), line=draw(st.integers(1, 10_000)))
    data = AchievementData(grade=draw(st.sampled_from(GRADES)), credits=draw(st.sampled_from((None, 10))))
    status = draw(st.sampled_from(ResultStatus))
    kind = draw(st.sampled_from(("recorded", "recorded", "updated", "superseded", "withdrawn", "reinstated")))
    if kind == "recorded":
        return AchievementRecorded(
            achievement_id=achievement_id,
            key=key,
            data=data,
            status=status,
            qualification=SUMMARY,
            provenance=provenance,
        )
    if kind == "updated":
        return AchievementUpdated(
            achievement_id=achievement_id, key=key, data=data, status=status, provenance=provenance
        )
    if kind == "superseded":
        return AchievementSuperseded(achievement_id=achievement_id, key=key, data=data, provenance=provenance)
    if kind == "withdrawn":
        return AchievementWithdrawn(achievement_id=achievement_id, key=key, provenance=provenance)
    return AchievementReinstated(achievement_id=achievement_id, key=key, provenance=provenance)


def _messages(payloads: list[Contract], repeats: list[int]) -> list[Message]:
    """One partition's records; `repeats` name earlier records sent again (the same event id)."""
    values: list[bytes] = []
    for number, payload in enumerate(payloads):
        values.append(
            encode(
                wrap(
                    payload,
                    source="tests",
                    correlation_id="c",
                    event_id=uuid.UUID(int=10_000 + number),
                    occurred_at=T0 + timedelta(minutes=number),
                )
            )
        )
    values += [values[index % len(values)] for index in repeats] if values else []
    return [
        Message(PLR_TOPIC, 0, offset, b"key", value, int((T0 + timedelta(minutes=offset)).timestamp() * 1000))
        for offset, value in enumerate(values)
    ]


def _full(snapshot: Snapshot, messages: list[Message]) -> BatchChanges:
    return project_batch(snapshot, [decode_message(message) for message in messages])


@settings(max_examples=300, deadline=None)
@given(
    earlier=st.lists(achievement_events(), max_size=6),
    batch=st.lists(achievement_events(), min_size=1, max_size=12),
    repeats=st.lists(st.integers(0, 20), max_size=3),
)
def test_the_plain_path_writes_the_rows_of_the_full_path_or_leaves_the_batch_to_it(
    earlier: list[Contract], batch: list[Contract], repeats: list[int]
) -> None:
    # the rows already in the model: what the full path made of earlier events
    before = _full(Snapshot(), _messages(earlier, []))
    snapshot = Snapshot(achievements=dict(before.achievements), seen_event_ids=set(before.applied_event_ids[:1]))
    messages = _messages(batch, repeats)
    full = _full(snapshot, messages)

    plain = decode_plain_achievements(messages, {}, {})
    assert plain is not None
    folded = project_plain(snapshot, plain)

    if folded is None:
        assert [parked.reason for parked in full.parked][:1] == ["error"]
        return
    assert not full.parked
    assert folded.achievements == full.achievements
    assert folded.history == full.history
    assert folded.applied_event_ids == full.applied_event_ids
    assert folded.outcomes == full.outcomes
    assert folded.newest_timestamp_ms == full.newest_timestamp_ms


def _recorded_message(offset: int = 0, topic: str = PLR_TOPIC) -> Message:
    event = AchievementRecorded(
        achievement_id=uuid.UUID(int=1),
        key=_key(ULNS[0], QANS[0]),
        data=AchievementData(grade="7"),
        status=ResultStatus.FINAL,
        qualification=SUMMARY,
        provenance=Provenance(batch_id=uuid.UUID(int=1), line=1),
    )
    value = encode(wrap(event, source="tests", correlation_id="c", occurred_at=T0))
    return Message(topic, 0, offset, ULNS[0].encode(), value, 0)


def test_a_batch_the_plain_path_cannot_read_is_left_to_the_full_path() -> None:
    usual = _recorded_message()
    assert decode_plain_achievements([usual], {}, {}) is not None

    centre = CentreAchievementReported(
        report_id=uuid.UUID(int=2),
        uln=ULNS[0],
        provider_ukprn="10000001",
        qualification_number=QANS[0],
    )
    centre_message = Message(PLR_TOPIC, 0, 1, b"k", encode(wrap(centre, source="tests", correlation_id="c")), 0)
    malformed = usual._replace(offset=1, value=b"{not json")
    for unusual in (centre_message, malformed, usual._replace(offset=1, value=None)):
        assert decode_plain_achievements([usual, unusual], {}, {}) is None

    skipped = {(PLR_TOPIC, 0, 0): OperatorAction("skip")}
    assert decode_plain_achievements([usual], skipped, {}) is None
    assert decode_plain_achievements([usual], {}, {usual.stream: (0, 0)}) is None
    assert decode_plain_achievements([usual], {}, {(LEARNER_TOPIC, ULNS[0]): (0, 0)}) is not None


@settings(max_examples=200, deadline=None)
@given(
    earlier=st.lists(achievement_events(), max_size=6), batch=st.lists(achievement_events(), min_size=1, max_size=12)
)
def test_both_paths_name_as_created_exactly_the_achievements_that_had_no_row(
    earlier: list[Contract], batch: list[Contract]
) -> None:
    # the store inserts these rows without merging: one that had a row must never be among them
    snapshot = Snapshot(achievements=dict(_full(Snapshot(), _messages(earlier, [])).achievements))
    messages = _messages(batch, [])
    full = _full(snapshot, messages)
    assert full.created == set(full.achievements) - set(snapshot.achievements)

    plain = decode_plain_achievements(messages, {}, {})
    assert plain is not None
    folded = project_plain(snapshot, plain)
    if folded is not None:
        assert folded.created == full.created
