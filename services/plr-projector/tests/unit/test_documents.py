"""The PLR's OpenAPI description (`documents`) holds every learning event `views` writes, for every audience:
a key added to the view and not to the description, or one of another type, fails here."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest
from pydantic import TypeAdapter

from lrs_platform.identity import Principal
from plr_projector.documents import AoLearningEvent, CentreLearningEvent, PersonalLearningRecord
from plr_projector.projection import AchievementRow, HistoryEntry
from plr_projector.views import audience_for, learning_events

from .test_views import ULN, WHEN, achievement, centre, group

EVENTS = TypeAdapter(list[AoLearningEvent | CentreLearningEvent])


def _history(row: AchievementRow) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            *row.key,
            version=version,
            change=change,
            event_id=uuid.uuid4(),
            occurred_at=WHEN,
            batch_id=uuid.uuid4(),
            line=1,
            achievement_id=row.achievement_id,
            status="Final",
            withdrawn=change == "withdrawn",
            grade="7",
            ukprn=None,
            language_for_assessment=None,
            credits=None,
            pathway=None,
        )
        for version, change in ((1, "recorded"), (2, "withdrawn"))
    ]


@pytest.mark.parametrize("principal", ["learner:1000000043", "provider:10000001", "ao:RN5133", "operator:support"])
def test_every_audiences_learning_events_are_described(principal: str) -> None:
    maths, english = achievement(), achievement(qan="60012345", withdrawn=True)
    reported = [
        centre(),
        centre(qan="10050001"),
        replace(centre(qan="10060001"), award_date=date(2024, 5, 1), participation_start_date=date(2023, 9, 1)),
    ]
    events = learning_events(
        audience_for(Principal.parse(principal), group(1)),
        [maths, english],
        reported,
        {maths.achievement_id},
        {row.key: _history(row) for row in (maths, english)},
        include_withdrawn=True,
        include_history=True,
    )
    described = EVENTS.validate_python(events)
    assert [type(event) for event in described] == [type(EVENTS.validate_python([event])[0]) for event in events]
    assert {event["source"] for event in events} <= {"AO", "ILR"}


def test_the_whole_record_is_described() -> None:
    learner = audience_for(Principal.parse(f"learner:{ULN}"), group(1))
    events = learning_events(
        learner, [achievement()], [centre(qan="10050001")], set(), {}, include_withdrawn=False, include_history=False
    )
    document = {
        "environment": "live",
        "uln": ULN,
        "master_uln": ULN,
        "ulns": [ULN],
        "ability_to_share": 1,
        "learning_events": events,
        "events_held_in_dead_letters": 0,
        "consistency": {"after_batch": str(uuid.uuid4()), "waited_ms": 3.5, "batch_events_applied": 1},
    }
    assert PersonalLearningRecord.model_validate(document).learning_events[0].source in {"AO", "ILR"}
    with pytest.raises(ValueError, match="ability_to_share"):
        PersonalLearningRecord.model_validate(document | {"ability_to_share": 3})


def test_each_version_names_the_line_of_its_batch_that_made_it() -> None:
    row = achievement()
    events = learning_events(
        audience_for(Principal.parse("operator:support"), group(1)),
        [row],
        [],
        set(),
        {row.key: _history(row)},
        include_withdrawn=True,
        include_history=True,
    )
    assert [version["line"] for version in events[0]["history"]] == [1, 1]
    described = EVENTS.validate_python(events)[0]
    assert isinstance(described, AoLearningEvent) and described.history is not None
    assert described.history[0].line == 1
