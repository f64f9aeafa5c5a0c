"""Whole-batch behaviour: RS005, outcomes, events, counts, consistency with evolve, speed."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    BATCH_ID,
    GCSE,
    REFERENCE,
    TODAY,
    ULN,
    ULN_2,
    batch,
    decide,
    record,
    state,
)

from lrs_contracts.batch import SubmittedRecord
from lrs_contracts.codes import BatchCode
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import AchievementRecorded, QualificationSummary, ResultStatus
from lrs_domain.achievements import AchievementState, evolve
from lrs_domain.decision import BatchDecision, decide_batch
from lrs_domain.identifiers import uln_check_digit
from lrs_domain.reference import Learner, ReferenceSnapshot
from lrs_domain.rules import exceeds_rejection_threshold

BAD_ULN = "1000000042"


def distinct_records(accepted: int, rejected: int) -> list[SubmittedRecord]:
    """`accepted` valid creates (each its own achievement) and `rejected` records with a bad ULN check digit."""
    good = [
        record(
            line=4 + index,
            uln=(ULN, ULN_2)[index % 2],
            award_date=date.fromordinal(date(2010, 1, 1).toordinal() + index // 2).isoformat(),
        )
        for index in range(accepted)
    ]
    bad = [record(line=4 + accepted + index, uln=BAD_ULN) for index in range(rejected)]
    return [*good, *bad]


def decide_counts(accepted: int, rejected: int) -> BatchDecision:
    return decide(*distinct_records(accepted, rejected))


# --- RS005 ---------------------------------------------------------------------------------------


def test_rs005_exactly_30_percent_rejected_passes() -> None:
    decision = decide_counts(7, 3)
    assert decision.failure is None
    assert len(decision.events) == 7


def test_rs005_more_than_30_percent_rejected_fails_the_whole_batch() -> None:
    decision = decide_counts(6, 4)
    assert decision.failure is not None
    assert decision.failure.code is BatchCode.REJECTION_THRESHOLD
    assert str(decision.failure.code) == "RS005"
    assert "4 of 10" in decision.failure.reason
    assert decision.events == ()
    assert decision.new_states == ()


def test_rs005_outcomes_of_a_failed_batch_still_give_each_verdict() -> None:
    decision = decide(record(line=4), record(line=5, uln=BAD_ULN), existing=[])
    assert decision.failure is not None
    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED, RecordStatus.REJECTED]
    assert decision.outcomes[0].achievement_id is None  # nothing was recorded
    assert [finding.code for finding in decision.outcomes[1].errors] == ["RV002"]


def test_rs005_a_no_op_in_a_failed_batch_still_names_its_achievement() -> None:
    decision = decide(record(line=4), record(line=5, uln=BAD_ULN), existing=[state()])
    assert decision.failure is not None
    assert decision.outcomes[0].status is RecordStatus.NO_OP
    assert decision.outcomes[0].achievement_id == state().achievement_id


def test_rs005_3000_of_10000_passes_and_3001_fails() -> None:
    passing = decide_counts(7000, 3000)
    assert passing.failure is None
    assert passing.counts.rejected == 3000
    failing = decide_counts(6999, 3001)
    assert failing.failure is not None
    assert (failing.counts.total, failing.counts.rejected) == (10000, 3001)
    assert failing.events == ()


def test_rs005_counts_no_ops_in_the_batchs_total() -> None:
    # A resend of 7 results already on the PLR with 3 rejections: 3 of 10 rejected, so the batch completes.
    resent = [record(line=4 + day, award_date=f"2024-08-{day + 1:02d}") for day in range(7)]
    rejected = [record(line=11 + i, uln=BAD_ULN, award_date=f"2024-08-{i + 1:02d}") for i in range(3)]
    decision = decide(*resent, *rejected, existing=[state(award_date=date(2024, 8, day + 1)) for day in range(7)])
    assert (decision.counts.no_ops, decision.counts.rejected, decision.counts.total) == (7, 3, 10)
    assert decision.failure is None


def test_no_ops_are_not_rejections() -> None:
    decision = decide(record(line=4), record(line=5, uln=ULN_2), existing=[state(), state(uln=ULN_2)])
    assert decision.failure is None
    assert decision.counts.no_ops == 2


@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_threshold_is_more_than_30_percent_in_exact_arithmetic(total: int, data: st.DataObject) -> None:
    rejected = data.draw(st.integers(min_value=0, max_value=total))
    assert exceeds_rejection_threshold(rejected, total) is (rejected * 10 > total * 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12))
def test_a_batch_fails_exactly_when_more_than_30_percent_is_rejected(accepted: int, rejected: int) -> None:
    if accepted + rejected == 0:
        return
    decision = decide_counts(accepted, rejected)
    assert (decision.failure is not None) is (rejected * 10 > (accepted + rejected) * 3)
    assert (decision.counts.accepted, decision.counts.rejected) == (accepted, rejected)
    assert len(decision.events) == (0 if decision.failure else accepted)


# --- outcomes, events, counts --------------------------------------------------------------------


def test_outcomes_echo_the_mis_identifier_mask_the_uln_and_name_the_achievement() -> None:
    decision = decide(record(line=4, mis_identifier="CENTRE-77/CAND-9"))
    outcome = decision.outcomes[0]
    expected_id = deterministic_id("achievement", AO, ULN, GCSE, "2024-08-22")
    assert (outcome.line, outcome.mis_identifier, outcome.action) == (4, "CENTRE-77/CAND-9", "Create")
    assert outcome.uln_masked == "******0043"
    assert outcome.achievement_id == expected_id
    assert decision.events[0].achievement_id == expected_id


def test_recorded_event_carries_key_data_status_catalogue_summary_and_provenance() -> None:
    decision = decide(record(line=4, qualification_number="603/0304/9", grade="7", credits="0"))
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.key.model_dump() == {
        "ao_id": AO,
        "uln": ULN,
        "qualification_number": GCSE,
        "award_date": date(2024, 8, 22),
    }
    assert event.data.model_dump() == {
        "pathway": None,
        "grade": "7",
        "ukprn": "10001234",
        "language_for_assessment": "English",
        "credits": 0,
    }
    assert event.status is ResultStatus.FINAL
    catalogue_row = REFERENCE.catalogue.rows_for(GCSE)[0]
    assert event.qualification == QualificationSummary(
        title=catalogue_row.title,
        qualification_type="GCSE (9 to 1)",
        level="Level 2",
        framework="RQF",
        kind="qualification",
        awarding_organisation_name="Test Awarding Body",
    )
    assert (event.provenance.batch_id, event.provenance.line, event.provenance.mis_identifier) == (BATCH_ID, 4, None)


def test_no_plr_event_carries_the_mis_identifier_which_the_outcomes_echo() -> None:
    # The AO's own key is free text (some are surname + initial + DOB): the outcomes echo it to the AO, the PLR
    # log, kept for ever in clear and keyed by the full ULN, does not carry it, for any kind of event
    named = "Wolstencroft Barnaby 2001-09-23"
    decision = decide(
        record(line=4, action="Withdraw", grade=None, mis_identifier=named),
        record(line=5, uln=ULN_2, grade="8", mis_identifier=named),
        record(line=6, award_date="2023-08-24", mis_identifier=named),
        record(line=7, action="Update", grade="4", mis_identifier=named, award_date="2022-08-24"),
        existing=[state(), state(uln=ULN_2, status=ResultStatus.PROVISIONAL), state(award_date=date(2022, 8, 24))],
    )
    assert decision.failure is None
    assert [outcome.mis_identifier for outcome in decision.outcomes] == [named] * 4
    assert {type(event).__name__ for event in decision.events} == {
        "AchievementWithdrawn",
        "AchievementSuperseded",
        "AchievementRecorded",
        "AchievementUpdated",
    }
    for event in decision.events:
        assert event.provenance.mis_identifier is None
        assert named not in event.model_dump_json()


def test_counts_are_disjoint() -> None:
    decision = decide(
        record(line=4),
        record(line=5, uln=ULN_2),
        record(line=6, uln=ULN, award_date="2023-08-24"),
        record(line=7, uln=BAD_ULN),
        existing=[state(uln=ULN_2)],
    )
    counts = decision.counts
    assert (counts.total, counts.accepted, counts.no_ops, counts.rejected) == (4, 2, 1, 1)
    assert counts.total == counts.accepted + counts.no_ops + counts.rejected


def test_an_unknown_action_is_echoed_as_submitted() -> None:
    decision = decide(record(action="Delete"))
    assert decision.outcomes[0].action == "Delete"


def test_new_states_are_the_existing_states_evolved_by_the_events() -> None:
    existing = [state(), state(uln=ULN_2, status=ResultStatus.PROVISIONAL)]
    decision = decide(
        record(line=4, action="Withdraw", grade=None),
        record(line=5, uln=ULN_2, grade="8"),
        record(line=6, award_date="2023-08-24"),
        existing=existing,
    )
    before: dict[object, AchievementState | None] = {known.achievement_id: known for known in existing}
    rebuilt: dict[object, AchievementState] = {}
    for event in decision.events:
        rebuilt[event.achievement_id] = evolve(
            rebuilt.get(event.achievement_id, before.get(event.achievement_id)), event
        )
    assert tuple(rebuilt.values()) == decision.new_states
    assert len(decision.new_states) == 3


def test_the_new_achievements_are_those_no_state_stood_for_before_the_batch() -> None:
    withdrawn = state(uln=ULN_2, award_date=date(2023, 8, 24), withdrawn=True)
    existing = [state(), state(uln=ULN_2, status=ResultStatus.PROVISIONAL), withdrawn]
    decision = decide(
        record(line=4, action="Withdraw", grade=None),
        record(line=5, uln=ULN_2, grade="8"),
        record(line=6, award_date="2023-08-24"),
        record(line=7, uln=ULN_2, award_date="2023-08-24"),
        existing=existing,
    )
    assert decision.failure is None and len(decision.new_states) == 4
    (created,) = [new for new in decision.new_states if new.key.uln == ULN and new.key.award_date == date(2023, 8, 24)]
    assert decision.new_achievement_ids == {created.achievement_id}


def test_the_same_batch_decided_twice_gives_the_same_decision() -> None:
    records = distinct_records(5, 1)
    assert decide(*records) == decide(*records)


# --- a full batch (its speed is measured by bench/, not asserted here) -----------------------------


def _valid_ulns(count: int) -> list[str]:
    ulns: list[str] = []
    first_nine = 300_000_000
    while len(ulns) < count:
        first_nine += 1
        check = uln_check_digit(str(first_nine))
        if check is not None:
            ulns.append(f"{first_nine}{check}")
    return ulns


def test_a_full_batch_of_ten_thousand_records_is_decided_against_existing_states() -> None:
    ulns = _valid_ulns(2500)
    records = [
        SubmittedRecord(
            line=4 + index,
            action="Create",
            mis_identifier=f"C{index}",
            uln=ulns[index // 4],
            given_name="Test",
            family_name="Learner",
            qualification_number=GCSE,
            award_date=date.fromordinal(date(2015, 1, 1).toordinal() + index % 4).isoformat(),
            grade="5",
            centre_ukprn="10001234",
            language_for_assessment="English",
        )
        for index in range(10_000)
    ]
    learners = {uln: Learner(uln, "Test", "Learner", None, 0, 1) for uln in ulns}
    reference = ReferenceSnapshot(REFERENCE.catalogue, REFERENCE.awarding_organisations, learners)
    existing = {(uln, GCSE): [state(uln=uln, award_date=date(2015, 1, 1), ukprn="10001234")] for uln in ulns[::2]}
    decision = decide_batch(batch(records), reference, existing, TODAY)
    assert (decision.counts.accepted, decision.counts.no_ops, decision.failure) == (8750, 1250, None)
    assert len(decision.events) == 8750
