"""Merged learners: the end of a merge chain records, every ULN of the learner is searched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import CATALOGUE, REFERENCE, TODAY, batch, codes, record, state

from lrs_contracts.batch import SubmittedRecord
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import AchievementRecorded, AchievementUpdated
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchDecision, achievement_states_needed, decide_batch
from lrs_domain.merges import LearnerMerges, MergedLearner
from lrs_domain.reference import Learner, ReferenceSnapshot

A, B, C, D = "3000000002", "3000000010", "3000000029", "3000000037"
UNMERGED = "3000000045"


def test_an_unmerged_uln_is_a_learner_of_its_own() -> None:
    assert LearnerMerges({A: B}).resolve(UNMERGED) == MergedLearner((UNMERGED,), UNMERGED, (UNMERGED,))


def test_a_chain_records_under_its_end_and_every_uln_of_it_is_the_same_learner() -> None:
    merges = LearnerMerges({A: B, B: C})
    assert merges.resolve(A) == MergedLearner((A, B, C), C, (A, B, C))
    assert merges.resolve(B) == MergedLearner((B, C), C, (B, C, A))
    assert merges.resolve(C) == MergedLearner((C,), C, (C, A, B))


def test_ulns_merged_into_the_same_master_belong_to_one_learner() -> None:
    merges = LearnerMerges({B: A, C: A, D: C})
    assert merges.resolve(D).recorded_uln == A
    assert merges.resolve(D).ulns == (D, C, A, B)
    assert merges.resolve(A).ulns == (A, B, C, D)


def test_a_cycle_resolves_to_its_lowest_uln_whichever_uln_is_asked() -> None:
    merges = LearnerMerges({B: C, C: B, D: C})
    assert {merges.resolve(uln).recorded_uln for uln in (B, C, D)} == {B}
    assert merges.resolve(D) == MergedLearner((D, C, B), B, (D, C, B))
    assert sorted(merges.resolve(C).ulns) == [B, C, D]


def test_a_uln_merged_into_itself_is_not_merged() -> None:
    assert LearnerMerges({A: A}).resolve(A) == MergedLearner((A,), A, (A,))


def test_a_master_the_links_know_nothing_more_about_ends_the_chain() -> None:
    merges = LearnerMerges({A: UNMERGED})
    assert merges.resolve(A) == MergedLearner((A, UNMERGED), UNMERGED, (A, UNMERGED))


@given(
    links=st.dictionaries(st.sampled_from((A, B, C, D)), st.sampled_from((A, B, C, D, UNMERGED)), max_size=4),
    uln=st.sampled_from((A, B, C, D, UNMERGED)),
)
def test_the_ulns_of_a_learner_are_those_its_resolution_names(links: dict[str, str], uln: str) -> None:
    merges = LearnerMerges(links)
    assert merges.ulns_of(uln) == merges.resolve(uln).ulns


def test_links_come_from_the_registry_s_learners() -> None:
    learners = [_learner(A, master=B), _learner(B, master=C), _learner(C)]
    assert LearnerMerges.of(learners).resolve(A).recorded_uln == C


# --- the decision, with A merged into B and B into C ----------------------------------------------


def _learner(uln: str, master: str | None = None, given_name: str = "Ada") -> Learner:
    return Learner(uln, given_name, "Byron", date(2001, 2, 3), 2, 1, master_uln=master)


CHAINED = ReferenceSnapshot(
    catalogue=CATALOGUE,
    awarding_organisations=REFERENCE.awarding_organisations,
    learners={
        **REFERENCE.learners,
        A: _learner(A, master=B),
        B: _learner(B, master=C, given_name="Augusta"),
        C: _learner(C),
    },
)


def _record(uln: str, line: int = 4, **fields: str) -> SubmittedRecord:
    return record(line, **{"uln": uln, "given_name": "Ada", "family_name": "Byron", **fields})


def _decide(*records: SubmittedRecord, existing: Sequence[AchievementState] = ()) -> BatchDecision:
    states: dict[tuple[str, str], list[AchievementState]] = {}
    for known in existing:
        states.setdefault((known.key.uln, known.key.qualification_number), []).append(known)
    needed = achievement_states_needed(records, CHAINED)
    assert set(states) <= needed, "the test gives states the decider would not have loaded"
    return decide_batch(batch(records), CHAINED, states, TODAY)


def test_a_batch_needs_the_states_of_every_uln_of_each_named_learner() -> None:
    needed = achievement_states_needed([_record(A), record(line=5)], CHAINED)
    gcse = "60303049"
    assert needed == {(A, gcse), (B, gcse), (C, gcse), ("1000000043", gcse)}


def test_a_batch_needs_no_states_for_records_without_a_uln_or_readable_qan() -> None:
    assert achievement_states_needed([_record(A, qualification_number="nonsense"), record(uln="")], CHAINED) == set()


def test_a_new_achievement_of_a_merged_uln_is_recorded_under_the_end_of_the_chain() -> None:
    decision = _decide(_record(A))
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.key.uln == C


def test_an_update_naming_any_uln_of_the_chain_finds_the_achievement_recorded_before_the_merges() -> None:
    before_merges = state(uln=A, grade="5")
    for named in (A, B, C):
        decision = _decide(_record(named, action="Update", grade="7"), existing=[before_merges])
        assert decision.outcomes[0].status is RecordStatus.ACCEPTED, (named, codes(decision))
        (event,) = decision.events
        assert isinstance(event, AchievementUpdated)
        assert (event.key.uln, event.achievement_id, event.data.grade) == (A, before_merges.achievement_id, "7")


def test_a_create_of_the_same_achievement_under_the_master_is_the_same_achievement() -> None:
    before_merges = state(uln=A, grade="7")
    same = _decide(_record(C, grade="7"), existing=[before_merges])
    assert same.outcomes[0].status is RecordStatus.NO_OP
    assert same.outcomes[0].achievement_id == before_merges.achievement_id
    assert codes(_decide(_record(C, grade="5"), existing=[before_merges])) == ["RV014"]


def test_an_update_at_another_award_date_of_a_merged_uln_is_rv013() -> None:
    before_merges = state(uln=A, award_date=date(2023, 8, 24))
    assert codes(_decide(_record(C, action="Update", grade="7"), existing=[before_merges])) == ["RV013"]


def test_when_a_merge_brought_two_equal_achievements_together_a_record_addresses_its_own_uln_s() -> None:
    under_a, under_c = state(uln=A, grade="5"), state(uln=C, grade="6")
    for named, addressed in ((A, under_a), (B, under_c), (C, under_c)):
        decision = _decide(_record(named, action="Withdraw"), existing=[under_a, under_c])
        (event,) = decision.events
        assert event.achievement_id == addressed.achievement_id, named


def test_names_match_the_registration_of_any_uln_the_named_one_was_merged_into() -> None:
    assert _decide(_record(A, given_name="Augusta")).outcomes[0].status is RecordStatus.ACCEPTED
    assert codes(_decide(_record(C, given_name="Augusta"))) == ["RV004"]


def test_two_records_naming_different_ulns_of_one_learner_address_the_same_achievement() -> None:
    decision = _decide(_record(A), _record(C, line=5))
    assert codes(decision, 1) == ["RV020"]
