"""The bulk rebuild's pure parts: its slices of the log, and its fold in chunks and passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnersMerged,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementRecorded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    ResultStatus,
)
from lrs_contracts.sandpit import SandpitAchievementsErased
from plr_projector.consumer import Runner
from plr_projector.projection import (
    CHALLENGE_TOPIC,
    LEARNER_TOPIC,
    PLR_TOPIC,
    BatchChanges,
    Message,
    note_head,
)
from plr_projector.rebuild import FoldState, Rows, Spill, in_pass, passes_for, plan_slices, row_of
from plr_projector.rebuild_jobs import RebuildJob, _unfinished
from plr_projector.store import BULK_COLUMNS

from .log_messages import T0, achievement_key, consumer_records, event_value, log_message, project, recorded

ULNS = ["1000000043", "1026893096", "1000000051", "1000000078", "1000000086"]


def _recorded(uln: str, grade: str, status: ResultStatus, line: int, batch: int = 7) -> AchievementRecorded:
    event: AchievementRecorded = recorded(uln, status=status, line=line, batch=batch, grade=grade, ukprn="10000001")
    return event  # named, as mypy reads what comes from `.log_messages` as Any


def _log() -> list[Message]:
    """Two partitions of the PLR topic, one of the learner topic and one of the challenge topic:
    provisional then final results, updates, a withdrawal, a redelivered event, a poison record and
    what waits behind it, centre data, a Sandpit reset's erasure, registrations in clear (v1) and
    sealed (v2), a learner's erasure, challenges raised before and after sealing."""
    messages: list[Message] = []
    number = 0

    def add(topic: str, uln: str, payload: Contract | bytes, partition: int, *, same_as: int | None = None) -> None:
        nonlocal number
        value = payload if isinstance(payload, bytes) else event_value(payload, number if same_as is None else same_as)
        messages.append(log_message(topic, uln, value, offset=number, partition=partition))
        number += 1

    for round_ in range(3):
        for index, uln in enumerate(ULNS):
            partition = index % 2
            if round_ == 0:
                registration = (
                    LearnerRegisteredV1(uln=uln, given_name="A", family_name="B")
                    if index % 2
                    else LearnerRegistered(uln=uln, personal="s1.sealed")
                )
                add(LEARNER_TOPIC, uln, registration, 0)
                add(PLR_TOPIC, uln, _recorded(uln, "5", ResultStatus.PROVISIONAL, index + 1), partition)
            elif round_ == 1:
                # another batch: a decision's lines are its own (decision 0097)
                add(PLR_TOPIC, uln, _recorded(uln, "6", ResultStatus.FINAL, index + 1, batch=10), partition)
                if index == 2:
                    add(PLR_TOPIC, uln, b"not an event", partition)
            else:
                event = AchievementUpdated(
                    achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, uln),
                    key=achievement_key(uln),
                    data=AchievementData(grade="7"),
                    status=ResultStatus.FINAL,
                    provenance=Provenance(batch_id=uuid.UUID(int=8), line=index + 1),
                )
                add(PLR_TOPIC, uln, event, partition)
                add(PLR_TOPIC, uln, event, partition, same_as=number - 1)  # redelivered: same event id
    add(
        PLR_TOPIC,
        ULNS[0],
        AchievementWithdrawn(
            achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, ULNS[0]),
            key=achievement_key(ULNS[0]),
            provenance=Provenance(batch_id=uuid.UUID(int=9), line=1),
        ),
        0,
    )
    add(
        PLR_TOPIC,
        ULNS[1],
        CentreAchievementReported(
            report_id=uuid.UUID(int=99), uln=ULNS[1], provider_ukprn="10000001", qualification_number="6001166X"
        ),
        1,
    )
    add(LEARNER_TOPIC, ULNS[3], LearnersMerged(master_uln=ULNS[3], merged_uln=ULNS[4]), 0)
    add(LEARNER_TOPIC, ULNS[1], LearnerProviderLinked(uln=ULNS[1], provider_ukprn="10000001"), 0)
    add(LEARNER_TOPIC, ULNS[1], LearnerProviderLinked(uln=ULNS[1], provider_ukprn="10000001"), 0)  # linked again
    # a registration's link a learner file ended (decision 0121, 2026-12-06); another ended and made again
    add(LEARNER_TOPIC, ULNS[2], LearnerProviderLinked(uln=ULNS[2], provider_ukprn="10000002"), 0)
    add(LEARNER_TOPIC, ULNS[2], LearnerProviderUnlinked(uln=ULNS[2], provider_ukprn="10000002"), 0)
    add(LEARNER_TOPIC, ULNS[3], LearnerProviderLinked(uln=ULNS[3], provider_ukprn="10000003"), 0)
    add(LEARNER_TOPIC, ULNS[3], LearnerProviderUnlinked(uln=ULNS[3], provider_ukprn="10000003"), 0)
    add(LEARNER_TOPIC, ULNS[3], LearnerProviderLinked(uln=ULNS[3], provider_ukprn="10000003"), 0)
    add(
        LEARNER_TOPIC,
        ULNS[0],
        LearnerErased(uln=ULNS[0], erasure_id=uuid.UUID(int=6), erased_by="operator:dpo", erased_at=T0),
        0,
    )
    for sealed, uln in enumerate(ULNS[:2]):
        ids = {
            "challenge_id": uuid.UUID(int=40 + sealed),
            "achievement_id": uuid.uuid5(uuid.NAMESPACE_URL, uln),
            "ao_id": "RN5133",
        }
        key = str(ids["achievement_id"])
        raised = (
            ChallengeRaised(**ids, uln=uln, reason_sealed="s1.sealed")
            if sealed
            else ChallengeRaisedV1(**ids, uln=uln, reason="wrong grade")
        )
        add(CHALLENGE_TOPIC, key, raised, 0)
        add(CHALLENGE_TOPIC, key, ChallengeAcknowledged(**ids), 0)
    add(
        CHALLENGE_TOPIC,
        str(uuid.uuid5(uuid.NAMESPACE_URL, ULNS[1])),
        ChallengeResolved(
            challenge_id=uuid.UUID(int=41),
            achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, ULNS[1]),
            ao_id="RN5133",
            resolution=ChallengeResolution.UPHELD,
            uln=ULNS[1],
            note_sealed="s1.sealed",
        ),
        0,
    )
    # A Sandpit reset takes the AO's achievements of a learner off, history and all; recorded again after.
    add(PLR_TOPIC, ULNS[4], SandpitAchievementsErased(reset_id=uuid.UUID(int=5), ao_id="RN5133", uln=ULNS[4]), 0)
    add(PLR_TOPIC, ULNS[4], _recorded(ULNS[4], "4", ResultStatus.FINAL, 9), 0)
    return messages


def _plain(value: object) -> object:
    return str(value) if isinstance(value, uuid.UUID) else value


def _rows(state: FoldState) -> dict[str, Any]:
    """The state as the worker writes it at the end of a pass."""
    rows = Rows()
    rows.add_final(state)
    return {
        table: sorted(tuple(_plain(value) for value in row) for row in rows.batches().get(table, ()))
        for table in BULK_COLUMNS
    } | {"blocked": state.blocked}


def test_slices_are_disjoint_cover_the_log_and_keep_learner_and_challenge_topics_together() -> None:
    ranges = {
        (topic, partition): (0, 10) for topic in (PLR_TOPIC, LEARNER_TOPIC, CHALLENGE_TOPIC) for partition in range(6)
    }
    slices = plan_slices(ranges, 4)
    assert len(slices) == 4
    assert sorted(key for piece in slices for key in piece) == sorted(ranges)
    assert [sorted(p for t, p in piece if t == PLR_TOPIC) for piece in slices] == [[0, 4], [1, 5], [2], [3]]
    assert {t for t, _ in slices[0]} == {PLR_TOPIC, LEARNER_TOPIC, CHALLENGE_TOPIC}
    assert all(t == PLR_TOPIC for piece in slices[1:] for t, _ in piece)


def test_passes_bound_the_plr_events_a_pass_folds() -> None:
    ranges = {(PLR_TOPIC, 0): (100, 2_100), (LEARNER_TOPIC, 0): (0, 50_000)}
    assert passes_for(ranges, 1_000) == 2
    assert passes_for(ranges, 5_000) == 1
    assert passes_for({(PLR_TOPIC, 0): (0, 1_050)}, 1_000) == 1  # a few more rather than a second pass
    assert passes_for({(PLR_TOPIC, 0): (0, 1_200)}, 1_000) == 2
    messages = [log_message(PLR_TOPIC, uln, b"", offset) for offset, uln in enumerate(ULNS * 3)]
    for passes in (1, 2, 3):
        owners = [
            [number for number in range(passes) if in_pass(message.topic, message.key, number, passes)]
            for message in messages
        ]
        assert all(len(found) == 1 for found in owners)  # every record folded in exactly one pass
    learner = log_message(LEARNER_TOPIC, ULNS[0], b"", 0)
    assert [in_pass(learner.topic, learner.key, number, 3) for number in range(3)] == [True, False, False]


def _whole(messages: list[Message]) -> tuple[FoldState, BatchChanges]:
    """The live loop's answer for one batch holding the whole log."""
    changes = project(messages)
    whole = FoldState({})
    for key, row in changes.achievements.items():
        whole.achievements[key] = row_of(row)
    whole.centre.update(changes.centre)
    whole.learners.update(changes.learners)
    whole.links |= changes.links
    whole.links -= changes.unlinks
    whole.ended_links |= changes.ended_links
    whole.erased_ulns |= changes.erased_ulns
    whole.challenges.update(changes.challenges)
    for parked in changes.parked:
        note_head(whole.blocked, parked.message)
    return whole, changes


def _history(rows: Rows) -> list[tuple[object, ...]]:
    return [tuple(_plain(value) for value in row) for row in rows.history]


@pytest.mark.parametrize("chunk", [1, 2, 7, 1_000])
def test_folding_in_chunks_gives_the_rows_of_one_batch(chunk: int) -> None:
    messages = _log()
    state = FoldState({})
    rows = Rows()
    for start in range(0, len(messages), chunk):
        state.fold(consumer_records(messages[start : start + chunk]), rows)
    whole, changes = _whole(messages)
    assert _rows(state) == _rows(whole)
    expected = Rows()
    expected.add(changes)
    assert _history(rows) == _history(expected)
    assert [tuple(map(str, row)) for row in rows.applied] == [tuple(map(str, row)) for row in expected.applied]
    assert rows.tables["parked"] == expected.tables["parked"]
    assert len(rows.tables["parked"]) == 3  # the poison record and the two events of its learner behind it
    assert sorted(row[-1] for row in _rows(state)["challenges"]) == ["acknowledged", "resolved"]
    assert ("1000000043", True, 0, None) in _rows(state)["learners"], "registered (v2), and the erasure changed nothing"
    assert _rows(state)["provider_links"] == sorted([(ULNS[1], "10000001"), (ULNS[3], "10000003")])
    # every link ended because the ULN was another learner's, linked again since or not (decision 0121): the rows
    # the PLR reads hide that provider's centre reports by while it is not linked again
    assert _rows(state)["provider_links_ended"] == sorted([(ULNS[2], "10000002"), (ULNS[3], "10000003")])


def test_passes_together_give_the_rows_of_one_pass() -> None:
    messages = _log()
    passes = 3
    merged: dict[str, list[object]] = {}
    for number in range(passes):
        state = FoldState({})
        state.fold(
            consumer_records([message for message in messages if in_pass(message.topic, message.key, number, passes)]),
            Rows(),
        )
        for name, rows in _rows(state).items():
            target = merged.setdefault(name, [])
            assert not (set(rows) & set(target))  # no row is written by two passes
            target += rows
    assert {name: sorted(rows, key=repr) for name, rows in merged.items()} == {
        name: sorted(rows, key=repr) for name, rows in _rows(_whole(messages)[0]).items()
    }


def test_passes_read_back_from_the_first_pass_files_give_the_rows_of_one_pass(tmp_path: Path) -> None:
    messages = _log()
    passes = 3
    spill = Spill(tmp_path / "worker", first=0, passes=passes)
    merged: dict[str, list[object]] = {}
    for number in range(passes):
        state = FoldState({})
        if number == 0:  # as the log reads: the learner topic whole, each PLR run split
            chunk = [
                (topic, partition, spill.split(partition, records, 0) if topic == PLR_TOPIC else records)
                for topic, partition, records in consumer_records(messages)
            ]
            state.fold(chunk, Rows())
        else:
            for chunk, _ in spill.read(number):
                state.fold(chunk, Rows())
        for name, rows in _rows(state).items():
            merged.setdefault(name, []).extend(rows)
    spill.close()
    assert not (tmp_path / "worker").exists()
    assert {name: sorted(rows, key=repr) for name, rows in merged.items()} == {
        name: sorted(rows, key=repr) for name, rows in _rows(_whole(messages)[0]).items()
    }


def test_the_fold_holds_nothing_behind_a_record_without_a_key_as_the_live_loop_does() -> None:
    messages = [
        log_message(PLR_TOPIC, None, b"not an event", 0),
        log_message(PLR_TOPIC, None, event_value(_recorded(ULNS[0], "5", ResultStatus.FINAL, 1), 1), 1),
        log_message(PLR_TOPIC, ULNS[1], b"not an event either", 2),
        log_message(PLR_TOPIC, None, event_value(_recorded(ULNS[1], "6", ResultStatus.FINAL, 2), 3), 3),
        log_message(PLR_TOPIC, ULNS[1], event_value(_recorded(ULNS[1], "7", ResultStatus.FINAL, 3), 4), 4),
    ]
    state = FoldState({})
    rows = Rows()
    state.fold(consumer_records(messages), rows)
    assert [(row[2], row[4]) for row in rows.tables["parked"]] == [(0, "error"), (2, "error"), (4, "blocked")]
    assert sorted((row[0], row[9]) for row in _rows(state)["achievements"]) == [(ULNS[0], "5"), (ULNS[1], "6")]
    assert _rows(state) == _rows(_whole(messages)[0])


@pytest.mark.parametrize("chunk", [1, 7, 1_000])
def test_the_fold_marks_each_batch_as_the_live_loop_does_and_its_passes_together_too(chunk: int) -> None:
    messages = _log()
    state = FoldState({})
    for start in range(0, len(messages), chunk):
        state.fold(consumer_records(messages[start : start + chunk]), Rows())
    _, changes = _whole(messages)
    assert len(changes.marks) == 7  # the decisions' events are marked: batches 7, 8 and 10 in two partitions, 9 in one
    assert state.marks == changes.marks
    passes = 3
    merged: dict[tuple[uuid.UUID, int], tuple[int, int]] = {}
    for number in range(passes):
        part = FoldState({})
        part.fold(
            consumer_records([message for message in messages if in_pass(message.topic, message.key, number, passes)]),
            Rows(),
        )
        for batch, mark in part.marks.items():  # stored where higher than an earlier pass's
            merged[batch] = max(mark, merged.get(batch, mark))
    assert merged == changes.marks


@pytest.mark.parametrize(
    ("state", "phase", "says"),
    [
        ("caught_up", "following", "Rebuild 3 has caught up and follows the log until it is switched to or abandoned"),
        ("running", "loading", "Rebuild 3 is still loading: wait for it to catch up, then compare and switch"),
        ("failed", "indexing", "Rebuild 3 failed (disk full): abandon it first."),
    ],
)
def test_a_second_rebuild_is_refused_saying_what_ends_the_first(state: str, phase: str, says: str) -> None:
    job = RebuildJob(
        3, "plr_rebuild_3", cast(Runner, None), {}, "operator:tests", datetime.now(UTC), 0.0, 0,
        phase=phase, state=state, error="disk full" if state == "failed" else None,
    )  # fmt: skip

    assert says in _unfinished(job)
