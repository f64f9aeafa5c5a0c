"""Three warnings for loaded history (decision 0199), never rejections:

- WV004: a Create recorded again onto an achievement the AO withdrew (a re-exported copy of an early file, sent after
  a later one withdrew its results);
- WV005: a Create in a Final batch recorded as a new achievement while a live Provisional result of the same learner
  and qualification stands at another award date, which it does not supersede;
- WV006: an award date before the verified learner's registered date of birth (never saying that date).

The offline check, which sees neither achievements nor the registry, gives none of them. And RV005 for a well-formed
number the catalogue does not hold says what to do when the number is right."""

from __future__ import annotations

import dataclasses
from datetime import date

from libs.domain.tests.unit.domain_builders import (
    AO,
    BATCH_ID,
    CATALOGUE,
    LEARNERS,
    MASTER_ULN,
    MERGED_ULN,
    REFERENCE,
    TODAY,
    ULN,
    ULN_2,
    ULN_3,
    batch,
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
from lrs_domain.decision import BatchDecision, BatchJudging, check_batch_offline, decide_batch
from lrs_domain.rules import order_findings

RECREATES = (
    "This record re-creates an achievement that was withdrawn: leave it out if the withdrawal stands (warning only)."
)
RESULTS_DAY = date(2024, 6, 1)


def _warnings(decision: BatchDecision, index: int = 0) -> list[tuple[str, str | None, str]]:
    return [(finding.code, finding.field, finding.message) for finding in decision.outcomes[index].warnings]


def test_the_three_warnings_are_codes_with_their_words_and_come_after_the_others() -> None:
    assert [code.value for code in WarningCode][3:6] == ["WV004", "WV005", "WV006"]  # WV007: decision 0201
    for code in list(WarningCode)[3:]:
        assert code in WARNING_CODE_TITLES and code in CODE_EXPLANATIONS
    decision = decide(
        record(), existing=[state(withdrawn=True), state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)]
    )
    assert [finding.code for finding in order_findings(reversed(decision.outcomes[0].warnings))] == ["WV004", "WV005"]


def test_a_create_of_an_achievement_the_ao_withdrew_is_recorded_again_with_wv004() -> None:
    decision = decide(record(), existing=[state(withdrawn=True)])

    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert _warnings(decision) == [("WV004", None, RECREATES)]
    assert decision.counts.warnings == 1
    assert decision.failure is None and len(decision.events) == 1


def test_a_provisional_recorded_again_onto_a_withdrawn_provisional_is_warned_too() -> None:
    withdrawn = state(status=ResultStatus.PROVISIONAL, withdrawn=True)
    decision = decide(record(), existing=[withdrawn], job_type=JobType.PROVISIONAL)

    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert warning_codes(decision) == ["WV004"]


def test_no_wv004_without_a_withdrawn_achievement_or_on_a_record_rejected_for_itself() -> None:
    assert warning_codes(decide(record())) == []  # nothing held: the fast path
    assert warning_codes(decide(record(), existing=[state()])) == []  # a live one: a no-op
    # a record rejected for its own values re-creates nothing
    rejected = decide(record(grade="Z"), existing=[state(withdrawn=True)])
    assert codes(rejected) == ["RV009"] and warning_codes(rejected) == []
    # a Reinstate brings it back as asked: no warning
    assert warning_codes(decide(record(action="Reinstate"), existing=[state(withdrawn=True)])) == []


def test_a_final_at_another_award_date_than_the_live_provisional_is_recorded_with_wv005() -> None:
    provisional = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    decision = decide(record(), existing=[provisional], job_type=JobType.FINAL)

    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert _warnings(decision) == [
        (
            "WV005",
            "award_date",
            "This Final result does not supersede the Provisional result awarded on 2024-06-01: a Final replaces a"
            " Provisional only with the same award date; give that date, or withdraw the Provisional (warning only).",
        )
    ]
    # no job type is Final
    assert warning_codes(decide(record(), existing=[provisional])) == ["WV005"]


def test_wv005_names_every_live_provisional_at_another_date() -> None:
    provisionals = [
        state(status=ResultStatus.PROVISIONAL, award_date=date(2024, 7, 1)),
        state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY),
        state(status=ResultStatus.PROVISIONAL, award_date=date(2023, 8, 24), withdrawn=True),
    ]
    [(_, _, message)] = _warnings(decide(record(), existing=provisionals))

    assert message.startswith(
        "This Final result does not supersede the Provisional results awarded on 2024-06-01 and 2024-07-01: "
    )
    assert message.endswith("give the date of the one it replaces, or withdraw the others (warning only).")


def test_no_wv005_when_the_final_supersedes_or_nothing_provisional_stands_beside_it() -> None:
    same_day = state(status=ResultStatus.PROVISIONAL)
    superseded = decide(record(), existing=[same_day])
    assert superseded.outcomes[0].status is RecordStatus.ACCEPTED and warning_codes(superseded) == []
    assert warning_codes(decide(record(), existing=[state(award_date=RESULTS_DAY)])) == []  # a Final beside it
    withdrawn = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY, withdrawn=True)
    assert warning_codes(decide(record(), existing=[withdrawn])) == []
    provisional = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    assert warning_codes(decide(record(), existing=[provisional], job_type=JobType.PROVISIONAL)) == []
    # an Update cannot move the award date: RV013, as before, not a warning
    update = decide(record(action="Update"), existing=[provisional])
    assert codes(update) == ["RV013"] and warning_codes(update) == []


def test_a_final_re_creating_a_withdrawn_one_beside_a_live_provisional_gets_both() -> None:
    existing = [state(withdrawn=True), state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)]
    decision = decide(record(), existing=existing)

    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert warning_codes(decision) == ["WV004", "WV005"]
    assert decision.counts.warnings == 2


def test_an_award_date_before_the_registered_date_of_birth_is_accepted_with_wv006() -> None:
    # ULN_2 is registered as born on 2007-05-13
    decision = decide(record(uln=ULN_2, award_date="2007-01-22"))

    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert _warnings(decision) == [
        (
            "WV006",
            "award_date",
            "The award date is before the learner's registered date of birth: check the award date with the centre"
            " (warning only).",
        )
    ]
    assert "2007-05-13" not in decision.outcomes[0].warnings[0].message
    # the date of birth given too, matching
    assert warning_codes(decide(record(uln=ULN_2, award_date="2007-01-22", date_of_birth="2007-05-13"))) == ["WV006"]


def test_no_wv006_on_or_after_the_birthday_unverified_or_without_a_registered_date_of_birth() -> None:
    assert warning_codes(decide(record(uln=ULN_2, award_date="2007-05-13"))) == []
    assert warning_codes(decide(record(uln=ULN, award_date="2007-01-22"))) == []  # born in 1999
    assert warning_codes(decide(record(uln=ULN_3, award_date="2006-09-01"))) == []  # registered without one
    too_early = decide(record(uln=ULN_2, award_date="2006-08-31"))  # the date's own finding says enough
    assert codes(too_early) == ["RV007"] and warning_codes(too_early) == []
    # details that do not match verify nothing: RV004 alone, saying nothing of the date of birth
    unverified = decide(record(uln=ULN_2, family_name="Lewes", award_date="2007-01-22"))
    assert codes(unverified) == ["RV004"] and warning_codes(unverified) == []


def test_the_offline_check_gives_none_of_the_three() -> None:
    records = [record(line=4), record(line=5, uln=ULN_2, award_date="2007-01-22")]
    report = check_batch_offline(header(), records, CATALOGUE, TODAY)

    assert [outcome.warnings for outcome in report.outcomes] == [(), ()]


def test_rv005_for_a_number_not_catalogued_says_to_ask_for_it_if_it_is_right() -> None:
    decision = decide(record(qualification_number="603/1114/8"))
    [finding] = decision.outcomes[0].errors

    assert finding.code == "RV005"
    assert finding.message.endswith(
        ": check the qualification number; if the number is right and the qualification has left the register, ask"
        " the LRS service desk to add it."
    )
    assert "ask the LRS service desk to add it" in CODE_EXPLANATIONS["RV005"].fix


def test_no_wv005_when_another_record_of_the_batch_withdraws_the_provisional() -> None:
    provisional = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    withdraw = record(line=4, action="Withdraw", award_date="2024-06-01")
    decision = decide(withdraw, record(line=5), existing=[provisional], job_type=JobType.FINAL)

    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 2
    assert [warning_codes(decision, index) for index in (0, 1)] == [[], []]
    assert decision.counts.warnings == 0


def test_no_wv005_when_another_record_of_the_batch_supersedes_the_provisional_at_its_own_date() -> None:
    provisional = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    superseding = record(line=4, award_date="2024-06-01")
    decision = decide(superseding, record(line=5), existing=[provisional], job_type=JobType.FINAL)

    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 2
    assert [warning_codes(decision, index) for index in (0, 1)] == [[], []]


def test_wv005_still_names_the_provisionals_the_batch_leaves_and_ignores_what_it_rejects() -> None:
    provisionals = [
        state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY),
        state(status=ResultStatus.PROVISIONAL, award_date=date(2024, 7, 1)),
    ]
    withdraw = record(line=4, action="Withdraw", award_date="2024-06-01")
    decision = decide(withdraw, record(line=5), existing=provisionals, job_type=JobType.FINAL)

    [(code, field, message)] = _warnings(decision, 1)
    assert (code, field) == ("WV005", "award_date")
    assert message.startswith("This Final result does not supersede the Provisional result awarded on 2024-07-01: ")
    assert message.endswith("give that date, or withdraw the Provisional (warning only).")
    # a Withdraw rejected (a grade no qualification has) withdraws nothing: the warning stands whole
    rejected = decide(
        record(line=4, action="Withdraw", award_date="2024-06-01", grade="Z"),
        record(line=5),
        existing=provisionals,
        job_type=JobType.FINAL,
    )
    assert codes(rejected) == ["RV009"] and warning_codes(rejected, 1) == ["WV005"]
    assert "2024-06-01 and 2024-07-01" in rejected.outcomes[1].warnings[0].message
    # a withdrawal of another learner's Provisional at that date is no withdrawal of this one's
    other = state(uln=ULN_2, status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    elsewhere = decide(
        record(line=4),
        record(line=5, uln=ULN_2, action="Withdraw", award_date="2024-06-01"),
        existing=[*provisionals, other],
        job_type=JobType.FINAL,
    )
    assert elsewhere.outcomes[1].status is RecordStatus.ACCEPTED and warning_codes(elsewhere) == ["WV005"]
    assert "2024-06-01 and 2024-07-01" in elsewhere.outcomes[0].warnings[0].message


def test_wv005_is_judged_over_the_whole_batch_however_it_is_chunked() -> None:
    provisional = state(status=ResultStatus.PROVISIONAL, award_date=RESULTS_DAY)
    existing = {(ULN, provisional.key.qualification_number): [provisional]}
    records = [record(line=4, action="Withdraw", award_date="2024-06-01"), record(line=5)]
    judging = BatchJudging(BATCH_ID, AO, JobType.FINAL, TODAY)
    chunks = [judging.judge([each], REFERENCE, existing) for each in reversed(records)]
    decision = judging.finish(batch(records, JobType.FINAL), chunks)

    assert decision.counts.warnings == 0 and len(decision.events) == 2


def test_an_award_before_birth_is_warned_when_the_learner_is_verified_through_a_merge() -> None:
    # MERGED_ULN was merged into MASTER_ULN, registered as born on 2007-05-13; the record's names match only the
    # master's registration, so the learner is verified through the merge
    learners = {
        **LEARNERS,
        MASTER_ULN: dataclasses.replace(LEARNERS[MASTER_ULN], date_of_birth=date(2007, 5, 13)),
        MERGED_ULN: dataclasses.replace(LEARNERS[MERGED_ULN], family_name="Kingsley", date_of_birth=None),
    }
    reference = dataclasses.replace(REFERENCE, learners=learners)
    records = [record(line=4, uln=MERGED_ULN, award_date="2007-01-22"), record(line=5, uln=MERGED_ULN)]
    decision = decide_batch(batch(records), reference, {}, TODAY)

    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 2
    assert decision.new_states[0].key.uln == MASTER_ULN
    assert [warning_codes(decision, index) for index in (0, 1)] == [["WV006"], []]
    assert "2007-05-13" not in decision.outcomes[0].warnings[0].message


def test_an_award_before_birth_is_warned_when_the_names_match_only_in_another_unicode_form() -> None:
    # ULN_2, born 2007-05-13, registered as Siân (a composed â); the record writes SIÂN with a combining accent
    learners = {**LEARNERS, ULN_2: dataclasses.replace(LEARNERS[ULN_2], given_name="Siân")}
    reference = dataclasses.replace(REFERENCE, learners=learners)
    decision = decide_batch(
        batch([record(uln=ULN_2, given_name="SIA\u0302N", award_date="2007-01-22")]), reference, {}, TODAY
    )
    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert warning_codes(decision) == ["WV006"]
