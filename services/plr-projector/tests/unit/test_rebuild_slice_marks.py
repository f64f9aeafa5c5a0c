"""The bulk rebuild's passes know a copy by its batch's marks over the whole slice (`SliceMarks`), as one
pass and the live loop do: a copy of an event an operator skipped, whose batch has a higher line of another
learner folded in another pass, is dropped, not folded again into a new poison head."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lrs_contracts.envelope import Contract
from lrs_contracts.plr import AchievementData, AchievementKey, AchievementUpdated, AchievementWithdrawn, Provenance
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import (
    PLR_TOPIC,
    Message,
    OperatorAction,
    Position,
    Snapshot,
    decode_message,
    project_batch,
)
from plr_projector.rebuild import FoldState, Rows, SliceMarks, Spill, in_pass
from plr_projector.storable import INT4_MAX

from .log_messages import T0, achievement_key, consumer_records, event_value, log_message, recorded

ULNS = [f"{1_000_000_000 + number * 7:010d}" for number in range(40)]


def _withdrawn_of_nothing(uln: str, batch: int, line: int) -> AchievementWithdrawn:
    """Refused by the fold: nothing was recorded at this key."""
    return AchievementWithdrawn(
        achievement_id=uuid.uuid4(),
        key=AchievementKey(ao_id="RN5133", uln=uln, qualification_number="60012345", award_date=date(2024, 5, 20)),
        provenance=Provenance(batch_id=uuid.UUID(int=batch), line=line),
    )


def _updated(uln: str, batch: int, line: int, grade: str) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, uln),
        key=achievement_key(uln),
        data=AchievementData(grade=grade),
        status=recorded(uln).status,
        provenance=Provenance(batch_id=uuid.UUID(int=batch), line=line),
    )


def _log(skipped: str, other: str) -> tuple[list[Message], dict[Position, OperatorAction]]:
    """`skipped`'s recording; batch 20's line 1 (`skipped`'s, refused, skipped by the operator) and line 2
    (`other`'s); the decider's copy of line 1; a later update of `skipped`'s achievement."""
    payloads: list[tuple[str, Contract | int]] = [
        (skipped, recorded(skipped, batch=10)),
        (skipped, _withdrawn_of_nothing(skipped, 20, 1)),
        (other, recorded(other, batch=20, line=2)),
        (skipped, 1),  # the copy: the same bytes as offset 1
        (skipped, _updated(skipped, 30, 1, "8")),
    ]
    messages: list[Message] = []
    for offset, (uln, payload) in enumerate(payloads):
        value = messages[payload].value if isinstance(payload, int) else event_value(payload, offset)
        messages.append(log_message(PLR_TOPIC, uln, value, offset))
    return messages, {(PLR_TOPIC, 0, 1): OperatorAction("skip")}


def _rows(state: FoldState, rows: Rows) -> dict[str, list[Any]]:
    return {
        "achievements": sorted((key, row[3], row[4]) for key, row in state.achievements.items()),
        "history": sorted((row[0], row[4], row[5]) for row in rows.history),
        "parked": sorted(row[:5] for row in rows.tables["parked"]),
    }


def _passes(
    messages: list[Message],
    actions: dict[Position, OperatorAction],
    passes: int,
    directory: Path,
    *,
    slice_marks: bool,
) -> dict[str, list[Any]]:
    """The passes as a worker runs them: the first reads the log, keeping the marks of the others' records
    and the later passes' records in their files, then adds the marks it applied."""
    marks = SliceMarks(actions) if slice_marks else None
    spill = Spill(directory, first=0, passes=passes)
    merged: dict[str, list[Any]] = {"achievements": [], "history": [], "parked": []}
    for number in range(passes):
        state, rows = FoldState(actions, None if marks is None else marks.marks), Rows()
        if number == 0:
            for topic, partition, records in consumer_records(messages):
                state.fold([(topic, partition, spill.split(partition, records, 0, marks))], rows)
            if marks is not None:
                marks.add_applied(state._marks)
        else:
            for chunk, _ in spill.read(number):
                state.fold(chunk, rows)
        for name, values in _rows(state, rows).items():
            merged[name] = sorted(merged[name] + values)
    spill.close()
    return merged


def _pair(passes: int, skipped_pass: int) -> tuple[str, str]:
    skipped = next(uln for uln in ULNS if in_pass(PLR_TOPIC, uln.encode(), skipped_pass, passes))
    other = next(uln for uln in ULNS if not in_pass(PLR_TOPIC, uln.encode(), skipped_pass, passes))
    return skipped, other


@pytest.mark.parametrize(("passes", "skipped_pass"), [(2, 0), (2, 1), (3, 2)])
def test_passes_drop_the_copy_of_a_skipped_event_as_one_pass_does(
    passes: int, skipped_pass: int, tmp_path: Path
) -> None:
    messages, actions = _log(*_pair(passes, skipped_pass))
    whole, rows = FoldState(actions), Rows()
    whole.fold(consumer_records(messages), rows)
    one_pass = _rows(whole, rows)
    live = project_batch(Snapshot(), [decode_message(message, actions) for message in messages])
    assert live.parked == [] and one_pass["parked"] == []  # the copy is one: line 2 of its batch was applied
    assert sorted(entry[2] for entry in one_pass["history"]) == ["recorded", "recorded", "updated"]
    assert _passes(messages, actions, passes, tmp_path / "with", slice_marks=True) == one_pass
    # without the slice's marks the skipped learner's pass folds the copy: refused, a new poison head
    alone = _passes(messages, actions, passes, tmp_path / "without", slice_marks=False)
    assert [row[2] for row in alone["parked"]] == [3, 4]


def test_a_copy_the_slow_path_takes_is_dropped_by_the_slice_marks_too() -> None:
    skipped, other = _pair(2, 0)
    messages, actions = _log(skipped, other)
    marks = SliceMarks(actions)
    marks.note(0, consumer_records(messages)[0][2])
    state, rows = FoldState(actions, marks.marks), Rows()
    state._fold_slow([messages[3]], rows)  # the copy, as a record the plain path hands over is
    assert rows.tables["parked"] == [] and rows.history == [] and not state.blocked
    state._fold_slow([messages[4]], rows)  # an original of another batch is folded (nothing there to update)
    assert [row[:5] for row in rows.tables["parked"]] == [(PLR_TOPIC, 0, 4, skipped, "error")]


def _value(payload: Contract, number: int, source: str = "validation") -> bytes:
    return encode(
        wrap(payload, source=source, correlation_id="batch", event_id=uuid.UUID(int=number + 1), occurred_at=T0)
    )


def test_the_slice_marks_are_the_highest_line_and_its_first_offset_of_what_is_not_skipped() -> None:
    uln = ULNS[0]
    replacement = _value(recorded(uln, batch=40, line=9), 2)
    actions = {
        (PLR_TOPIC, 0, 1): OperatorAction("skip"),
        (PLR_TOPIC, 0, 2): OperatorAction("replace", replacement),
        ("lrs.learner.events.v1", 0, 3): OperatorAction("skip"),
    }
    values = [
        event_value(recorded(uln, batch=40, line=3), 0),
        event_value(recorded(uln, batch=40, line=7), 1),  # skipped: no mark
        event_value(recorded(uln, batch=40, line=2), 2),  # replaced: line 9
        event_value(recorded(uln, batch=40, line=1), 3),  # a copy: lower
        event_value(recorded(uln, batch=50, line=4), 4),
        event_value(recorded(uln, batch=50, line=4), 5),  # a copy: the same line, later
        _value(recorded(uln, batch=60, line=5), 6, source="an-importer"),  # not a decision's: known by its id
        event_value(recorded(uln, batch=70, line=1), 7).replace(b'"line":1,', f'"line":{INT4_MAX + 1},'.encode()),
        b"not an event",
        b'{"provenance":{"batch_id":"00000000-0000-0000-0000-000000000080","line":1,"mis_identifier":null}}',
    ]
    marks = SliceMarks(actions)
    marks.note(
        0, consumer_records([log_message(PLR_TOPIC, uln, value, offset) for offset, value in enumerate(values)])[0][2]
    )
    assert marks.marks == {(str(uuid.UUID(int=40)), 0): (9, 2), (str(uuid.UUID(int=50)), 0): (4, 4)}


def test_a_line_the_reading_pass_parked_makes_no_copy_in_a_later_pass(tmp_path: Path) -> None:
    """The pass reading the log gives the later ones the marks it applied, not its records' lines: a copy whose
    batch's higher line (in that pass) was parked is folded again, as in one pass."""
    skipped, other = _pair(2, 1)  # the skipped learner's pass reads its file; the other learner's reads the log
    messages, actions = _log(skipped, other)
    messages[2] = log_message(PLR_TOPIC, other, event_value(_withdrawn_of_nothing(other, 20, 2), 2), 2)
    whole, rows = FoldState(actions), Rows()
    whole.fold(consumer_records(messages), rows)
    one_pass = _rows(whole, rows)
    assert [row[2] for row in one_pass["parked"]] == [2, 3, 4]  # line 2 refused; the copy refused, its update held
    assert _passes(messages, actions, 2, tmp_path, slice_marks=True) == one_pass
