"""The challenges service keeps of each achievement what the domain's one fold makes of its events (every event type
after every kind of achievement before it, `tests.support.fold_cases`): whether it is withdrawn, its status and its
grade, from the event's head or decoded in full, in one poll or after the record of an earlier one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tests.support.fold_cases import ACHIEVEMENT, ULN, FoldCase, event_value, fold_cases

from challenges.plr_log import AchievementSoFar, record_changes
from lrs_contracts.envelope import Contract
from lrs_contracts.topics import PLR_EVENTS
from lrs_domain.achievements import AchievementEventMismatch
from lrs_platform.consumer import Message

CASES = fold_cases()
READS = {"head": False, "decoded in full": True}


def _messages(events: Sequence[Contract], first: int, full: bool) -> list[Message]:
    values = [event_value(event, first + number) for number, event in enumerate(events)]
    if full:  # a space after the brace: not as validation writes it, so not read from the head
        values = [b"{ " + value[1:] for value in values]
    return [Message(PLR_EVENTS.name, 0, first + number, ULN.encode(), value) for number, value in enumerate(values)]


def _after(case: FoldCase) -> tuple[bool, str, str]:
    assert case.state_after is not None
    return case.state_after.withdrawn, case.state_after.data.grade, case.state_after.status.value


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("name", CASES)
def test_one_poll_keeps_what_the_domains_fold_makes_of_the_events(name: str, read: str) -> None:
    case = CASES[name]
    messages = _messages(case.events, 0, READS[read])
    if case.refused:
        with pytest.raises(AchievementEventMismatch):
            record_changes(messages)
        return
    changes = record_changes(messages)
    facts = changes.achievements[ACHIEVEMENT]
    assert (facts.withdrawn, facts.grade, changes.statuses[ACHIEVEMENT]) == _after(case)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("name", CASES)
def test_a_poll_after_the_record_of_an_earlier_one_keeps_what_the_domains_fold_makes_of_its_event(
    name: str, read: str
) -> None:
    case = CASES[name]
    before = case.state_before
    on_record = {} if before is None else {ACHIEVEMENT: AchievementSoFar(before.status, before.withdrawn, "7")}
    assert before is None or before.data.grade == "7"
    messages = _messages([case.event], len(case.before), READS[read])
    if case.refused:
        with pytest.raises(AchievementEventMismatch):
            record_changes(messages, on_record)
        return
    changes = record_changes(messages, on_record)
    if case.change is None:  # the fold changes nothing: nothing is kept of the event
        assert (changes.achievements, changes.statuses) == ({}, {})
        return
    facts = changes.achievements[ACHIEVEMENT]
    if before is not None:  # None: as the record had it
        facts = facts._replace(
            withdrawn=before.withdrawn if facts.withdrawn is None else facts.withdrawn,
            grade=before.data.grade if facts.grade is None else facts.grade,
        )
    status = changes.statuses.get(ACHIEVEMENT, None if before is None else before.status.value)
    assert (facts.withdrawn, facts.grade, status) == _after(case)
