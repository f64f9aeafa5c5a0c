"""Which achievement a learner may challenge: checked against the PLR log, never the request body."""

from __future__ import annotations

import uuid

import pytest

from challenges.domain import (
    AchievementIsWithdrawn,
    AchievementNotFound,
    AchievementOnRecord,
    AwardingOrganisationMismatch,
    challenge_target,
)

LEARNER = "1000000043"
MERGED_INTO_LEARNER = "1026893096"
SOMEONE_ELSE = "6936002314"
ON_RECORD = AchievementOnRecord(uuid.UUID("66666666-7777-4888-9999-000000000000"), LEARNER, "RN5133", withdrawn=False)


def test_an_achievement_on_the_learners_own_record_is_the_target_with_the_logs_ao() -> None:
    assert challenge_target(ON_RECORD, {LEARNER}, None) == ON_RECORD
    assert challenge_target(ON_RECORD, {LEARNER}, "RN5133").ao_id == "RN5133"


def test_an_achievement_under_a_uln_merged_into_the_learner_is_theirs() -> None:
    recorded_before_the_merge = AchievementOnRecord(ON_RECORD.achievement_id, MERGED_INTO_LEARNER, "RN5133", False)
    assert challenge_target(recorded_before_the_merge, {LEARNER, MERGED_INTO_LEARNER}, None).uln == MERGED_INTO_LEARNER


def test_unknown_and_someone_elses_achievements_are_the_same_not_found() -> None:
    with pytest.raises(AchievementNotFound):
        challenge_target(None, {LEARNER}, None)
    with pytest.raises(AchievementNotFound):
        challenge_target(ON_RECORD, {SOMEONE_ELSE}, "RN5133")


def test_someone_elses_achievement_is_not_found_before_its_ao_is_compared() -> None:
    with pytest.raises(AchievementNotFound):
        challenge_target(ON_RECORD, {SOMEONE_ELSE}, "RN9999")


def test_a_withdrawn_achievement_cannot_be_challenged() -> None:
    withdrawn = AchievementOnRecord(ON_RECORD.achievement_id, LEARNER, "RN5133", withdrawn=True)
    with pytest.raises(AchievementIsWithdrawn):
        challenge_target(withdrawn, {LEARNER}, None)


def test_naming_another_ao_than_the_one_that_recorded_it_is_refused() -> None:
    with pytest.raises(AwardingOrganisationMismatch):
        challenge_target(ON_RECORD, {LEARNER}, "RN9999")


def test_naming_another_ao_is_answered_with_a_code_of_its_own() -> None:
    """A program tells "wrong AO" from every other invalid request by its code, as a person does by its words."""
    from challenges.api import _translate
    from challenges.domain import AwardingOrganisationMismatch
    from lrs_contracts.codes import ProblemCode, explanation_of

    problem = _translate(AwardingOrganisationMismatch("RN9093")).problem
    assert (problem.status, problem.code) == (422, ProblemCode.ACHIEVEMENT_OF_ANOTHER_AO)
    assert problem.type == "/problems/ACHIEVEMENT_OF_ANOTHER_AO"
    assert explanation_of(ProblemCode.ACHIEVEMENT_OF_ANOTHER_AO) is not None
    assert "leave out ao_id" in (problem.detail or "")


def test_a_challenged_achievement_shows_its_qualification_as_the_plr_does() -> None:
    """DOMAIN.md §2: stored as 8 characters, shown with obliques (the PLR's `subject_code`)."""
    from datetime import date

    from challenges.api import ChallengedAchievementPublic
    from lrs_contracts.challenge import ChallengedAchievement

    shown = ChallengedAchievementPublic.of(
        ChallengedAchievement(qualification_number="6001166X", title=None, award_date=date(2024, 5, 20), grade="7")
    )
    assert shown is not None
    assert (shown.qualification_number, shown.subject_code) == ("6001166X", "600/1166/X")
