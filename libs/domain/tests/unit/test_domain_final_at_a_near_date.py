"""WV008 (decision 0202), never a rejection: a Create recorded as a new achievement while the AO holds a live Final
result of the same learner and qualification at another award date within 60 days of it (the spreadsheet walk: a
file accepted with a mistyped award date, corrected and sent again, gave the learner the result twice)."""

from __future__ import annotations

from datetime import date

from libs.domain.tests.unit.domain_builders import (
    CATALOGUE,
    TODAY,
    ULN,
    ULN_2,
    codes,
    decide,
    header,
    record,
    state,
    warning_codes,
)

from lrs_contracts.batch import JobType
from lrs_contracts.codes import CODE_EXPLANATIONS, WARNING_CODE_TITLES, WarningCode
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import ResultStatus
from lrs_domain.decision import check_batch_offline
from lrs_domain.rules import NEAR_AWARD_DAYS, AchievementAddress, final_at_a_near_date, finals_near

MISTYPED = date(2024, 8, 21)  # the record()'s award date is 2024-08-22
ONE_DATE = (
    "The learner already holds this qualification from you, awarded 2024-08-21: if this record corrects that date,"
    " withdraw that one; a resit keeps both (warning only)."
)


def _address(award_date: date) -> AchievementAddress:
    return AchievementAddress(uln=ULN, qualification_number=state().key.qualification_number, award_date=award_date)


def test_wv008_is_a_warning_code_with_its_title_and_advice() -> None:
    assert WarningCode.FINAL_AT_A_NEAR_DATE.value == "WV008"
    assert WarningCode.FINAL_AT_A_NEAR_DATE in WARNING_CODE_TITLES
    assert "withdraw" in CODE_EXPLANATIONS[WarningCode.FINAL_AT_A_NEAR_DATE].fix


def test_finals_near_are_the_live_finals_at_another_date_within_60_days_either_side() -> None:
    new = date(2024, 8, 22)
    before, after = state(award_date=date(2024, 6, 23)), state(award_date=date(2024, 10, 21))  # 60 days each way
    too_far = state(award_date=date(2024, 6, 22))  # 61 days
    withdrawn = state(award_date=MISTYPED, withdrawn=True)
    provisional = state(award_date=MISTYPED, status=ResultStatus.PROVISIONAL)
    same_date = state(award_date=new)

    found = finals_near(_address(new), [before, after, too_far, withdrawn, provisional, same_date])

    assert NEAR_AWARD_DAYS == 60
    assert found == (before, after)


def test_the_message_names_each_date_once_earliest_first_and_no_personal_data() -> None:
    one = final_at_a_near_date([MISTYPED])
    two = final_at_a_near_date([date(2024, 9, 1), MISTYPED, date(2024, 9, 1)])

    assert (one.code, one.field, one.message) == ("WV008", "award_date", ONE_DATE)
    assert two.message == (
        "The learner already holds this qualification from you, awarded 2024-08-21 and 2024-09-01: if this record"
        " corrects one of those dates, withdraw the one it corrects; a resit keeps both (warning only)."
    )


def test_a_create_at_a_corrected_award_date_is_recorded_with_wv008() -> None:
    decision = decide(record(), existing=[state(award_date=MISTYPED)])

    outcome = decision.outcomes[0]
    assert outcome.status is RecordStatus.ACCEPTED and len(decision.events) == 1
    assert [(finding.code, finding.message) for finding in outcome.warnings] == [("WV008", ONE_DATE)]
    assert ULN not in ONE_DATE and "Test" not in ONE_DATE  # neither ULN nor name
    assert decision.counts.warnings == 1 and decision.failure is None


def test_wv008_in_a_provisional_batch_and_on_a_re_created_achievement_too() -> None:
    provisional_batch = decide(record(), existing=[state(award_date=MISTYPED)], job_type=JobType.PROVISIONAL)
    assert provisional_batch.outcomes[0].status is RecordStatus.ACCEPTED
    assert warning_codes(provisional_batch) == ["WV008"]

    recreated = decide(record(), existing=[state(withdrawn=True), state(award_date=MISTYPED)])
    assert warning_codes(recreated) == ["WV004", "WV008"]


def test_wv008_comes_with_wv005_when_a_provisional_stands_beside_it_too() -> None:
    existing = [state(award_date=MISTYPED), state(status=ResultStatus.PROVISIONAL, award_date=date(2024, 6, 1))]
    decision = decide(record(), existing=existing, job_type=JobType.FINAL)

    assert warning_codes(decision) == ["WV005", "WV008"]
    assert decision.counts.warnings == 2


def test_no_wv008_for_a_resit_far_apart_another_learner_or_what_is_not_a_new_achievement() -> None:
    assert warning_codes(decide(record(), existing=[state(award_date=date(2024, 6, 1))])) == []  # 82 days: a resit
    assert warning_codes(decide(record(), existing=[state(uln=ULN_2, award_date=MISTYPED)])) == []
    live_final_today = state()
    assert decide(record(), existing=[live_final_today, state(award_date=MISTYPED)]).outcomes[0].status is (
        RecordStatus.NO_OP
    )
    # an Update cannot move the award date: RV013, not a warning
    update = decide(record(action="Update"), existing=[state(award_date=MISTYPED)])
    assert codes(update) == ["RV013"] and warning_codes(update) == []
    # a record rejected for its own values records nothing
    rejected = decide(record(grade="Z"), existing=[state(award_date=MISTYPED)])
    assert codes(rejected) == ["RV009"] and warning_codes(rejected) == []


def test_the_offline_check_sees_no_achievements_so_gives_no_wv008() -> None:
    report = check_batch_offline(header(), [record()], CATALOGUE, TODAY)

    assert report.outcomes[0].status is RecordStatus.ACCEPTED and list(report.outcomes[0].warnings) == []
