"""A challenge put back from its own event (a database restored to an earlier point, decision 0172) whose event was
written before it carried the achievement's pathway, centre, language and credits (decision 0192) waits to take them
from the record, as the challenges migration 0012 found did; one written since keeps what its event says, nulls
included."""

from __future__ import annotations

from datetime import date
from typing import Any

from challenges.store import _written_before_its_data
from lrs_contracts.challenge import ChallengedAchievement

WRITTEN_BEFORE: dict[str, Any] = {"qualification_number": "60011661", "award_date": date(2024, 7, 1), "grade": "B"}


def test_an_event_written_before_the_data_was_carried_waits_for_it() -> None:
    assert _written_before_its_data(ChallengedAchievement.model_validate(WRITTEN_BEFORE))


def test_an_event_written_since_keeps_what_it_says_even_none() -> None:
    since = {**WRITTEN_BEFORE, "pathway": None, "ukprn": None, "language_for_assessment": None, "credits": None}

    assert not _written_before_its_data(ChallengedAchievement.model_validate(since))
    assert not _written_before_its_data(ChallengedAchievement.model_validate({**WRITTEN_BEFORE, "credits": 12}))


def test_a_challenge_with_no_achievement_has_nothing_to_wait_for() -> None:
    assert not _written_before_its_data(None)
