"""A decision's achievement events are deduplicated by their batch's mark (decision 0097): for events
as the decider publishes them (a batch's events in line order in each partition, a copy after them
all, with the same ids) the marks drop exactly the events their ids would, in every split into polls,
on the plain path as on the full one."""

from __future__ import annotations

import itertools
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
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import (
    DECIDER,
    PLR_TOPIC,
    BatchChanges,
    Message,
    Snapshot,
    decode_message,
    decode_plain_achievements,
    note_head,
    project_batch,
    project_plain,
)

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
ULNS = ("1000000043", "1026893096", "1000000051")
BATCHES = (uuid.UUID(int=1), uuid.UUID(int=2))
SUMMARY = summary()


def _event(kind: str, uln: str, batch_id: uuid.UUID, line: int, grade: str) -> Contract:
    key = AchievementKey(ao_id="RN5133", uln=uln, qualification_number="6001166X", award_date=date(2024, 5, 20))
    achievement_id = uuid.uuid5(uuid.NAMESPACE_URL, uln)
    provenance = Provenance(batch_id=batch_id, line=line)
    if kind == "recorded":
        return AchievementRecorded(
            achievement_id=achievement_id,
            key=key,
            data=AchievementData(grade=grade),
            status=ResultStatus.FINAL,
            qualification=SUMMARY,
            provenance=provenance,
        )
    if kind == "updated":
        return AchievementUpdated(
            achievement_id=achievement_id,
            key=key,
            data=AchievementData(grade=grade),
            status=ResultStatus.FINAL,
            provenance=provenance,
        )
    return AchievementWithdrawn(achievement_id=achievement_id, key=key, provenance=provenance)


def _value(payload: Contract, source: str, batch_id: uuid.UUID, line: int) -> bytes:
    return encode(
        wrap(
            payload,
            source=source,
            correlation_id=str(batch_id),
            event_id=uuid.uuid5(batch_id, str(line)),  # as the decider derives it: a copy has the same id
            occurred_at=T0 + timedelta(minutes=batch_id.int),
        )
    )


@st.composite
def decided_logs(draw: st.DrawFn) -> list[tuple[int, str, Contract, uuid.UUID, int]]:
    """(partition, key, event, batch id, line) in log order: each batch's events in line order, some
    batches published again (whole, later, in the same partitions), batches one after another."""
    log: list[tuple[int, str, Contract, uuid.UUID, int]] = []
    for batch_id in BATCHES:
        decision = []
        for line in sorted(draw(st.sets(st.integers(1, 40), min_size=1, max_size=8))):
            uln = draw(st.sampled_from(ULNS))
            kind = draw(st.sampled_from(("recorded", "recorded", "updated", "withdrawn")))
            event = _event(kind, uln, batch_id, line, draw(st.sampled_from(("4", "7"))))
            decision.append((ULNS.index(uln) % 2, uln, event, batch_id, line))
        log += decision
        for _ in range(draw(st.integers(0, 2))):
            log += decision
    return log


def _messages(log: list[tuple[int, str, Contract, uuid.UUID, int]], source: str) -> list[Message]:
    offsets = [0, 0]
    messages = []
    for partition, uln, event, batch_id, line in log:
        messages.append(
            Message(PLR_TOPIC, partition, offsets[partition], uln.encode(), _value(event, source, batch_id, line), 0)
        )
        offsets[partition] += 1
    return messages


def _in_polls(messages: list[Message], cuts: list[int], *, plain: bool) -> tuple[Snapshot, list[BatchChanges]]:
    """Projects the messages poll by poll, each against the model the earlier ones left."""
    model = Snapshot()
    polls = []
    bounds = [0, *sorted(cut % (len(messages) + 1) for cut in cuts), len(messages)]
    for start, end in itertools.pairwise(bounds):
        poll = messages[start:end]
        if not poll:
            continue
        events = decode_plain_achievements(poll, {}, model.parked_streams) if plain else None
        folded = project_plain(model, events) if events is not None else None
        # as the consumer does: the full path takes what the plain one cannot (and parks it)
        changes = folded or project_batch(model, [decode_message(message) for message in poll])
        model.achievements.update(changes.achievements)
        model.seen_event_ids.update(changes.applied_event_ids)
        model.marks.update(changes.marks)
        for parked in changes.parked:
            note_head(model.parked_streams, parked.message)
        polls.append(changes)
    return model, polls


@settings(max_examples=200, deadline=None)
@given(log=decided_logs(), cuts=st.lists(st.integers(0, 200), max_size=4))
def test_marks_drop_exactly_the_copies_that_ids_drop(
    log: list[tuple[int, str, Contract, uuid.UUID, int]], cuts: list[int]
) -> None:
    by_ids, id_polls = _in_polls(_messages(log, "tests"), cuts, plain=False)
    for plain in (False, True):
        by_marks, mark_polls = _in_polls(_messages(log, DECIDER), cuts, plain=plain)
        assert by_marks.achievements == by_ids.achievements
        assert [changes.history for changes in mark_polls] == [changes.history for changes in id_polls]
        assert [changes.outcomes for changes in mark_polls] == [changes.outcomes for changes in id_polls]
        assert not by_marks.seen_event_ids  # no id of a decision's event is stored
    assert not by_ids.marks
    if not by_marks.parked_streams:  # every event applied: each batch's mark is its highest line in the partition
        marks: dict[tuple[uuid.UUID, int], int] = {}
        for partition, _, _, batch_id, line in log:
            marks[(batch_id, partition)] = max(marks.get((batch_id, partition), 0), line)
        assert {batch: line for batch, (line, _) in by_marks.marks.items()} == marks


def test_a_parked_original_retried_after_later_lines_is_applied_and_its_copy_is_not() -> None:
    batch_id = BATCHES[0]
    original = _event("recorded", ULNS[0], batch_id, 3, "7")
    messages = [
        Message(PLR_TOPIC, 0, offset, ULNS[0].encode(), _value(original, DECIDER, batch_id, 3), 0)
        for offset in (10, 30)  # the original, parked while line 9 (offset 14) was applied, and its copy
    ]
    model = Snapshot(marks={(batch_id, 0): (9, 14)})

    changes = project_batch(model, [decode_message(message) for message in messages])

    assert changes.outcomes == {(PLR_TOPIC, "applied"): 1, (PLR_TOPIC, "duplicate"): 1}
    assert [entry.line for entry in changes.history] == [3]
    assert changes.marks == {}  # the mark stays line 9's
