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
from lrs_platform.identity import Principal

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


def test_a_challenge_on_an_achievement_under_a_merged_uln_keeps_both_ulns() -> None:
    """Decision 0162: the learner's own views read the challenge's `uln` (the master's, who raised it); the AO
    knows its achievement by the ULN it recorded it under, which the challenge keeps as `achievement.uln` and answers
    the AO as its `uln` too (it is told of no ULN of the learner's where it recorded nothing)."""
    import secrets
    from datetime import UTC, date, datetime

    from challenges.api import ChallengePublic
    from challenges.domain import evolve, raise_challenge
    from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

    recorded = AchievementOnRecord(
        ON_RECORD.achievement_id, MERGED_INTO_LEARNER, "RN5133", False, "6001166X", date(2024, 8, 22), "7"
    )
    target = challenge_target(recorded, {LEARNER, MERGED_INTO_LEARNER}, None)
    key = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))

    event = raise_challenge(
        uuid.uuid4(), target.achievement_id, target.ao_id, LEARNER, "wrong grade", key, target.described()
    )
    raised = evolve(None, event, datetime(2024, 9, 2, tzinfo=UTC), key)
    shown = ChallengePublic.of(raised, Principal.parse("ao:RN5133"))
    to_the_learner = ChallengePublic.of(raised, Principal.parse(f"learner:{LEARNER}"))

    assert (event.uln, event.achievement.uln if event.achievement else None) == (LEARNER, MERGED_INTO_LEARNER)
    assert (shown.uln, shown.achievement.uln if shown.achievement else None) == (
        MERGED_INTO_LEARNER,
        MERGED_INTO_LEARNER,
    )
    assert to_the_learner.uln == LEARNER


def test_an_aos_uln_filter_also_finds_the_uln_it_recorded_the_achievement_under() -> None:
    from challenges.domain import ChallengeQuery, within_reach

    asked = ChallengeQuery(ulns=frozenset({MERGED_INTO_LEARNER}))

    by_ao = within_reach(asked, Principal.parse("ao:RN5133"))
    by_learner = within_reach(asked, Principal.parse(f"learner:{LEARNER}"), {LEARNER, MERGED_INTO_LEARNER})
    by_operator = within_reach(asked, Principal.parse("operator:ops"))

    assert by_ao == ChallengeQuery(ao_id="RN5133", ulns=asked.ulns, ulns_as_recorded=True)
    # the ones they raised under any of their ULNs: the master's filter found nothing raised under the other
    assert by_learner == ChallengeQuery(ulns=frozenset({LEARNER, MERGED_INTO_LEARNER}))
    assert by_operator == asked
    assert within_reach(ChallengeQuery(), Principal.parse("ao:RN5133")) == ChallengeQuery(ao_id="RN5133")


def test_a_uln_asked_as_recorded_matches_either_column_with_its_arguments_numbered_after_the_others() -> None:
    from challenges.store import _filtered

    after = ["raised_at <= $1", "(raised_at < $1 OR challenge_id > $2)"]
    one, several = {LEARNER}, {LEARNER, MERGED_INTO_LEARNER}

    assert _filtered("RN5133", one, True, after, [1, 2]) == (
        " WHERE raised_at <= $1 AND (raised_at < $1 OR challenge_id > $2)"
        " AND (uln = $3 OR recorded_uln = $3) AND ao_id = $4",
        [1, 2, LEARNER, "RN5133"],
    )
    assert _filtered("RN5133", several, True, [], []) == (
        " WHERE (uln = ANY($1::text[]) OR recorded_uln = ANY($1::text[])) AND ao_id = $2",
        [sorted(several), "RN5133"],
    )
    assert _filtered("RN5133", one, False, [], []) == (" WHERE ao_id = $1 AND uln = $2", ["RN5133", LEARNER])


def test_a_challenge_raised_before_the_recorded_uln_was_kept_still_reads() -> None:
    from lrs_contracts.challenge import ChallengedAchievement

    older = ChallengedAchievement.model_validate({"qualification_number": "6001166X", "award_date": "2024-08-22"})
    assert older.uln is None
