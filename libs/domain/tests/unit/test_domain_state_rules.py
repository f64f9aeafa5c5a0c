"""The state rules of DOMAIN.md §7 (RV012-RV017, no-ops, supersession), each batch judged against the state before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from libs.domain.tests.unit.domain_builders import (
    BATCH_ID,
    GCSE,
    TWO_PATHWAYS,
    ULN_2,
    codes,
    decide,
    record,
    state,
)

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import (
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    ResultStatus,
)
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchDecision

FINAL = JobType.FINAL
PROVISIONAL = JobType.PROVISIONAL
LIVE_FINAL = state(status=ResultStatus.FINAL)
LIVE_PROVISIONAL = state(status=ResultStatus.PROVISIONAL)
WITHDRAWN_FINAL = state(status=ResultStatus.FINAL, withdrawn=True)
WITHDRAWN_PROVISIONAL = state(status=ResultStatus.PROVISIONAL, withdrawn=True)


def only_state(decision: BatchDecision) -> AchievementState:
    (new_state,) = decision.new_states
    return new_state


def assert_no_change(decision: BatchDecision) -> None:
    assert decision.events == ()
    assert decision.new_states == ()


# --- Provisional and Final -----------------------------------------------------------------------


def test_provisional_then_final_supersedes() -> None:
    decision = decide(record(), existing=[LIVE_PROVISIONAL], job_type=FINAL)
    (event,) = decision.events
    assert isinstance(event, AchievementSuperseded)
    assert event.achievement_id == LIVE_PROVISIONAL.achievement_id
    assert only_state(decision).status is ResultStatus.FINAL
    assert decision.outcomes[0].achievement_id == LIVE_PROVISIONAL.achievement_id


def test_a_final_create_supersedes_a_provisional_with_its_own_grade() -> None:
    decision = decide(record(grade="7"), existing=[LIVE_PROVISIONAL], job_type=None)
    (event,) = decision.events
    assert isinstance(event, AchievementSuperseded)
    assert event.data.grade == "7"
    assert (only_state(decision).status, only_state(decision).data.grade) == (ResultStatus.FINAL, "7")


def test_a_final_update_of_a_provisional_makes_it_final() -> None:
    decision = decide(record(action="Update", grade="6"), existing=[LIVE_PROVISIONAL], job_type=FINAL)
    (event,) = decision.events
    assert isinstance(event, AchievementSuperseded)
    assert (only_state(decision).status, only_state(decision).data.grade) == (ResultStatus.FINAL, "6")


def test_final_then_provisional_is_rv017() -> None:
    decision = decide(record(), existing=[LIVE_FINAL], job_type=PROVISIONAL)
    assert codes(decision) == ["RV017"]
    assert_no_change(decision)


def test_final_then_provisional_with_other_data_reports_both_codes() -> None:
    decision = decide(record(grade="8"), existing=[LIVE_FINAL], job_type=PROVISIONAL)
    assert codes(decision) == ["RV017", "RV014"]


def test_a_provisional_update_of_a_final_is_rv017() -> None:
    decision = decide(record(action="Update", grade="8"), existing=[LIVE_FINAL], job_type=PROVISIONAL)
    assert codes(decision) == ["RV017"]


def test_a_provisional_onto_a_withdrawn_final_is_rv017() -> None:
    decision = decide(record(), existing=[WITHDRAWN_FINAL], job_type=PROVISIONAL)
    assert codes(decision) == ["RV017"]


def test_a_provisional_update_of_a_withdrawn_final_says_the_final_is_now_withdrawn() -> None:
    decision = decide(record(action="Update", grade="6"), existing=[WITHDRAWN_FINAL], job_type=PROVISIONAL)
    rv017 = next(error for error in decision.outcomes[0].errors if error.code == "RV017")
    assert "had a Final result (now withdrawn)" in rv017.message


def test_a_provisional_onto_a_withdrawn_provisional_recreates_it() -> None:
    decision = decide(record(grade="4"), existing=[WITHDRAWN_PROVISIONAL], job_type=PROVISIONAL)
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.status is ResultStatus.PROVISIONAL
    assert only_state(decision).withdrawn is False


def test_a_provisional_update_of_a_provisional_stays_provisional() -> None:
    decision = decide(record(action="Update", grade="3"), existing=[LIVE_PROVISIONAL], job_type=PROVISIONAL)
    (event,) = decision.events
    assert isinstance(event, AchievementUpdated)
    assert event.status is ResultStatus.PROVISIONAL


# --- Create --------------------------------------------------------------------------------------


def test_identical_resubmission_is_a_no_op() -> None:
    decision = decide(record(), existing=[LIVE_FINAL])
    outcome = decision.outcomes[0]
    assert outcome.status is RecordStatus.NO_OP
    assert outcome.errors == ()
    assert outcome.achievement_id == LIVE_FINAL.achievement_id
    assert (decision.counts.no_ops, decision.counts.accepted, decision.counts.rejected) == (1, 0, 0)
    assert decision.failure is None
    assert_no_change(decision)


def test_identical_provisional_resubmission_of_a_provisional_is_a_no_op() -> None:
    decision = decide(record(), existing=[LIVE_PROVISIONAL], job_type=PROVISIONAL)
    assert decision.outcomes[0].status is RecordStatus.NO_OP


def test_create_with_different_data_is_rv014() -> None:
    for changed in ({"grade": "6"}, {"centre_ukprn": "10009999"}, {"language_for_assessment": None}, {"credits": "5"}):
        decision = decide(record(**changed), existing=[LIVE_FINAL])
        assert codes(decision) == ["RV014"], changed


def test_learner_details_are_not_achievement_data() -> None:
    decision = decide(record(mis_identifier="NEW-KEY", gender="2", date_of_birth="1999-11-27"), existing=[LIVE_FINAL])
    assert decision.outcomes[0].status is RecordStatus.NO_OP


def test_create_on_a_withdrawn_achievement_recreates_it_under_the_same_id() -> None:
    decision = decide(record(grade="9"), existing=[WITHDRAWN_FINAL])
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.achievement_id == WITHDRAWN_FINAL.achievement_id
    new_state = only_state(decision)
    assert (new_state.withdrawn, new_state.data.grade) == (False, "9")


def test_the_same_qualification_at_another_award_date_is_a_new_achievement() -> None:
    decision = decide(record(award_date="2023-08-24"), existing=[LIVE_FINAL])
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.achievement_id != LIVE_FINAL.achievement_id


# --- Update --------------------------------------------------------------------------------------


def test_update_may_change_grade_ukprn_and_language() -> None:
    update = record(action="Update", grade="6", centre_ukprn="10005678", language_for_assessment="Welsh")
    decision = decide(update, existing=[LIVE_FINAL])
    (event,) = decision.events
    assert isinstance(event, AchievementUpdated)
    assert (event.data.grade, event.data.ukprn, event.data.language_for_assessment) == ("6", "10005678", "Welsh")
    assert event.status is ResultStatus.FINAL
    assert only_state(decision).data == event.data


def test_update_that_changes_credits_is_rv013() -> None:
    decision = decide(record(action="Update", credits="12"), existing=[LIVE_FINAL])
    assert codes(decision) == ["RV013"]
    assert decision.outcomes[0].errors[0].field == "credits"


def test_update_that_changes_the_pathway_is_rv013() -> None:
    science = state(qualification_number=TWO_PATHWAYS, pathway="Science", grade="Merit")
    decision = decide(
        record(action="Update", qualification_number=TWO_PATHWAYS, pathway="Development", grade="Merit"),
        existing=[science],
    )
    assert codes(decision) == ["RV013"]


def test_update_with_another_award_date_is_rv013_when_a_live_achievement_exists() -> None:
    decision = decide(record(action="Update", award_date="2024-08-23"), existing=[LIVE_FINAL])
    assert codes(decision) == ["RV013"]
    assert decision.outcomes[0].errors[0].field == "award_date"


def test_update_of_nothing_is_rv012() -> None:
    assert codes(decide(record(action="Update"))) == ["RV012"]


def test_update_with_another_award_date_is_rv012_when_only_a_withdrawn_one_exists() -> None:
    decision = decide(record(action="Update", award_date="2024-08-23"), existing=[WITHDRAWN_FINAL])
    assert codes(decision) == ["RV012"]


def test_update_of_a_withdrawn_achievement_is_rv016() -> None:
    decision = decide(record(action="Update", grade="6"), existing=[WITHDRAWN_FINAL])
    assert codes(decision) == ["RV016"]


def test_identical_update_is_a_no_op() -> None:
    decision = decide(record(action="Update"), existing=[LIVE_FINAL])
    assert decision.outcomes[0].status is RecordStatus.NO_OP
    assert_no_change(decision)


# --- Withdraw and Reinstate ----------------------------------------------------------------------


def test_withdraw_then_reinstate_then_update_across_three_batches() -> None:
    def next_batch(line: int, existing: Sequence[AchievementState], **fields: object) -> BatchDecision:
        return decide(record(line=line, grade=None, **fields), existing=existing)

    withdrawn = next_batch(4, [LIVE_FINAL], action="Withdraw")
    assert isinstance(withdrawn.events[0], AchievementWithdrawn)
    assert only_state(withdrawn).withdrawn

    reinstated = next_batch(5, withdrawn.new_states, action="Reinstate")
    assert isinstance(reinstated.events[0], AchievementReinstated)
    assert only_state(reinstated) == LIVE_FINAL

    updated = decide(record(line=6, action="Update", grade="7"), existing=reinstated.new_states)
    assert isinstance(updated.events[0], AchievementUpdated)
    assert only_state(updated).data.grade == "7"
    assert not only_state(updated).withdrawn


def test_withdraw_and_reinstate_need_no_grade_and_ignore_the_job_type() -> None:
    withdrawn = decide(record(action="Withdraw", grade=None), existing=[LIVE_FINAL], job_type=PROVISIONAL)
    assert isinstance(withdrawn.events[0], AchievementWithdrawn)
    reinstated = decide(record(action="Reinstate", grade=None), existing=[WITHDRAWN_FINAL], job_type=PROVISIONAL)
    assert isinstance(reinstated.events[0], AchievementReinstated)
    assert only_state(reinstated).status is ResultStatus.FINAL


def test_withdraw_of_a_withdrawn_achievement_is_rv015() -> None:
    assert codes(decide(record(action="Withdraw"), existing=[WITHDRAWN_FINAL])) == ["RV015"]


def test_reinstate_of_a_live_achievement_is_rv015() -> None:
    assert codes(decide(record(action="Reinstate"), existing=[LIVE_FINAL])) == ["RV015"]


def test_withdraw_or_reinstate_of_nothing_is_rv012() -> None:
    assert codes(decide(record(action="Withdraw"))) == ["RV012"]
    assert codes(decide(record(action="Reinstate"))) == ["RV012"]


def test_withdraw_of_another_award_date_is_rv012_not_rv013() -> None:
    assert codes(decide(record(action="Withdraw", award_date="2023-01-05"), existing=[LIVE_FINAL])) == ["RV012"]


# --- within one batch ----------------------------------------------------------------------------


def test_every_record_is_judged_against_the_state_before_the_batch() -> None:
    # Line 5 would be a valid reinstatement after line 4, but it is judged against the state before the
    # batch (live), and it addresses the same achievement as line 4.
    other = state(uln=ULN_2)
    decision = decide(
        record(line=4, action="Withdraw"),
        record(line=5, action="Reinstate"),
        record(line=6, action="Withdraw", uln=ULN_2),
        record(line=7, uln=ULN_2, qualification_number=GCSE, award_date="2023-08-24"),
        existing=[LIVE_FINAL, other],
    )
    assert decision.failure is None
    assert codes(decision, 1) == ["RV020", "RV015"]
    assert [type(event) for event in decision.events] == [
        AchievementWithdrawn,
        AchievementWithdrawn,
        AchievementRecorded,
    ]
    assert {new_state.achievement_id: new_state.withdrawn for new_state in decision.new_states} == {
        LIVE_FINAL.achievement_id: True,
        other.achievement_id: True,
        decision.events[2].achievement_id: False,
    }


def test_a_create_then_update_in_one_batch_leaves_the_update_judged_against_nothing() -> None:
    decision = decide(
        record(line=4),
        record(line=5, action="Update", grade="6"),
        record(line=6, uln=ULN_2),
        record(line=7, uln=ULN_2, award_date="2023-08-24"),
    )
    assert codes(decision, 1) == ["RV020", "RV012"]
    assert len(decision.events) == 3


def test_events_carry_provenance_in_record_order() -> None:
    decision = decide(
        record(line=9, mis_identifier="C-9", action="Withdraw", grade=None),
        record(line=4, mis_identifier="C-4", uln=ULN_2),
        existing=[LIVE_FINAL],
    )
    assert [event.provenance for event in decision.events] == [
        Provenance(batch_id=BATCH_ID, line=4),  # the MIS identifier is in the outcomes only
        Provenance(batch_id=BATCH_ID, line=9),
    ]
    assert [outcome.line for outcome in decision.outcomes] == [4, 9]


def test_state_of_other_award_dates_is_untouched() -> None:
    older = state(award_date=date(2022, 8, 25), grade="3")
    decision = decide(record(action="Update", grade="6"), existing=[older, LIVE_FINAL])
    assert only_state(decision).achievement_id == LIVE_FINAL.achievement_id
