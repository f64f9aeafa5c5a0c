"""WV008 is judged over the whole batch (decision 0202), as WV005 is: a Final result that another accepted record of
the same batch withdraws is not named, and when none is left the warning is not given. The correction the warning
advises, a Withdraw at the old award date and a Create at the new one in one file, is accepted without it."""

from __future__ import annotations

from datetime import date

from libs.domain.tests.unit.domain_builders import (
    AO,
    BATCH_ID,
    REFERENCE,
    TODAY,
    ULN,
    batch,
    codes,
    decide,
    record,
    state,
    warning_codes,
)

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import ResultStatus
from lrs_domain.decision import BatchJudging

MISTYPED = date(2024, 8, 21)  # the record()'s award date is 2024-08-22


def test_no_wv008_when_the_same_batch_withdraws_the_final_at_the_mistyped_date() -> None:
    withdraw = record(line=4, action="Withdraw", award_date="2024-08-21")
    decision = decide(withdraw, record(line=5), existing=[state(award_date=MISTYPED)])

    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 2
    assert [warning_codes(decision, index) for index in (0, 1)] == [[], []]
    assert decision.counts.warnings == 0


def test_wv008_still_names_the_finals_the_batch_leaves_and_ignores_a_rejected_withdraw() -> None:
    finals = [state(award_date=MISTYPED), state(award_date=date(2024, 9, 1))]
    withdraw = record(line=4, action="Withdraw", award_date="2024-08-21")
    decision = decide(withdraw, record(line=5), existing=finals)

    [warning] = decision.outcomes[1].warnings
    assert (warning.code, warning.field) == ("WV008", "award_date")
    assert warning.message.startswith("The learner already holds this qualification from you, awarded 2024-09-01: ")
    rejected = decide(
        record(line=4, action="Withdraw", award_date="2024-08-21", grade="Z"), record(line=5), existing=finals
    )
    assert codes(rejected) == ["RV009"] and warning_codes(rejected, 1) == ["WV008"]
    assert "awarded 2024-08-21 and 2024-09-01:" in rejected.outcomes[1].warnings[0].message


def test_a_withdrawn_final_leaves_wv005_as_it_was_and_a_superseded_provisional_leaves_wv008() -> None:
    final, provisional = state(award_date=MISTYPED), state(status=ResultStatus.PROVISIONAL, award_date=date(2024, 7, 1))
    withdraw_final = decide(
        record(line=4, action="Withdraw", award_date="2024-08-21"), record(line=5), existing=[final, provisional]
    )
    assert warning_codes(withdraw_final, 1) == ["WV005"]
    supersede = decide(record(line=4, award_date="2024-07-01"), record(line=5), existing=[final, provisional])
    assert warning_codes(supersede, 1) == ["WV008"]


def test_wv008_is_judged_over_the_whole_batch_however_it_is_chunked() -> None:
    final = state(award_date=MISTYPED)
    existing = {(ULN, final.key.qualification_number): [final]}
    records = [record(line=4, action="Withdraw", award_date="2024-08-21"), record(line=5)]
    judging = BatchJudging(BATCH_ID, AO, JobType.FINAL, TODAY)
    chunks = [judging.judge([each], REFERENCE, existing) for each in reversed(records)]
    decision = judging.finish(batch(records, JobType.FINAL), chunks)

    assert decision.counts.warnings == 0 and len(decision.events) == 2
