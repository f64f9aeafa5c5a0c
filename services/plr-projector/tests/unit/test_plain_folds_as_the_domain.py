"""The projector's plain path (`project_plain`) and its bulk rebuild (`FoldState`) write of each achievement what the
domain's one fold makes of its events (every event type after every kind of achievement before it,
`tests.support.fold_cases`): its status, whether it is withdrawn, its grade and its history, or they leave the
event the fold refuses to be parked."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tests.support.fold_cases import KEY, ULN, FoldCase, event_value, fold_cases

from lrs_contracts.envelope import Contract
from plr_projector.projection import PLR_TOPIC, Message, Snapshot, decode_plain_achievements, project_plain
from plr_projector.rebuild import FoldState, Rows

from .log_messages import consumer_records

CASES = fold_cases()
ROW_KEY = (KEY.uln, KEY.ao_id, KEY.qualification_number, KEY.award_date)


def _messages(events: Sequence[Contract], first: int = 0) -> list[Message]:
    return [
        Message(PLR_TOPIC, 0, first + number, ULN.encode(), event_value(event, first + number), 1_700_000_000_000)
        for number, event in enumerate(events)
    ]


def _after(case: FoldCase) -> tuple[str, bool, str]:
    assert case.state_after is not None
    return case.state_after.status.value, case.state_after.withdrawn, case.state_after.data.grade


@pytest.mark.parametrize("name", CASES)
def test_the_plain_path_writes_what_the_domains_fold_makes_of_the_events(name: str) -> None:
    case = CASES[name]
    plain = decode_plain_achievements(_messages(case.events), {}, {})
    assert plain is not None
    changes = project_plain(Snapshot(), plain)
    if case.refused:
        assert changes is None  # `project_batch` parks it, with the fold's reason
        return
    assert changes is not None
    row = changes.achievements[ROW_KEY]
    assert (row.status, row.withdrawn, row.grade) == _after(case)
    assert [entry.change for entry in changes.history] == [change.value for change in case.changes()]


@pytest.mark.parametrize("name", CASES)
def test_the_plain_path_over_the_rows_of_an_earlier_batch_writes_what_the_domains_fold_makes_of_its_event(
    name: str,
) -> None:
    case = CASES[name]
    earlier = decode_plain_achievements(_messages(case.before), {}, {})
    assert earlier is not None
    before = project_plain(Snapshot(), earlier)
    assert before is not None
    plain = decode_plain_achievements(_messages([case.event], len(case.before)), {}, {})
    assert plain is not None
    changes = project_plain(Snapshot(achievements=dict(before.achievements)), plain)
    if case.refused:
        assert changes is None
        return
    assert changes is not None
    row = changes.achievements.get(ROW_KEY, before.achievements.get(ROW_KEY))
    assert row is not None
    assert (row.status, row.withdrawn, row.grade) == _after(case)
    assert [entry.change for entry in changes.history] == [
        change.value for change in case.changes()[len(case.before) :]
    ]


@pytest.mark.parametrize("name", CASES)
def test_the_rebuild_folds_what_the_domains_fold_makes_of_the_events(name: str) -> None:
    case = CASES[name]
    state, rows = FoldState({}), Rows()
    state.fold(consumer_records(_messages(case.events)), rows)
    if case.refused:
        assert len(rows.tables["parked"]) == 1
        return
    assert not rows.tables["parked"]
    _, status, withdrawn, _, data, *_ = state.achievements[ROW_KEY]
    assert (status, withdrawn, data[1]) == _after(case)  # data: (pathway, grade, ...)
    assert [entry[5] for entry in rows.history] == [change.value for change in case.changes()]
