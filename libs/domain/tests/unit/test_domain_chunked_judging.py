"""A batch judged chunk by chunk as its records arrive, then finished, is decided as a whole batch is."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    BATCH_ID,
    GCSE,
    GCSE_A_STAR,
    MASTER_ULN,
    MERGED_ULN,
    QCF_QUALIFICATION,
    REFERENCE,
    TODAY,
    ULN,
    ULN_2,
    UNREGISTERED_ULN,
    batch,
    record,
    state,
)

from lrs_contracts.batch import JobType, SubmittedRecord
from lrs_contracts.plr import ResultStatus
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import BatchJudging, ExistingAchievements, decide_batch
from lrs_domain.reference import Catalogue, ReferenceSnapshot

# Records that meet every batch-wide rule: the same achievement twice (RV020), ULNs out of order
# (WV002), merged learners, state rules against existing achievements, rejections enough for RS005.
_RECORDS = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["Create", "Update", "Withdraw", "Reinstate", "Delete"]),
        "uln": st.sampled_from([ULN, ULN_2, MERGED_ULN, MASTER_ULN, UNREGISTERED_ULN, "1000000042"]),
        "qualification_number": st.sampled_from([GCSE, GCSE_A_STAR, QCF_QUALIFICATION, "6030304X"]),
        "award_date": st.sampled_from(["2024-08-22", "2023-08-24", "2099-01-01"]),
        "grade": st.sampled_from(["5", "4", "C", "Pass", "Fail"]),
    }
)
_EXISTING = (
    state(),
    state(uln=ULN_2, award_date=date(2023, 8, 24), grade="4"),
    state(uln=MERGED_ULN, withdrawn=True),
    state(uln=MASTER_ULN, qualification_number=GCSE_A_STAR, grade="C", status=ResultStatus.PROVISIONAL),
)


def _existing(states: list[AchievementState]) -> ExistingAchievements:
    by_pair: dict[tuple[str, str], list[AchievementState]] = {}
    for each in states:
        by_pair.setdefault((each.key.uln, each.key.qualification_number), []).append(each)
    return by_pair


@settings(max_examples=150, deadline=None)
@given(
    fields=st.lists(_RECORDS, min_size=1, max_size=30),
    existing=st.lists(st.sampled_from(_EXISTING), unique=True),
    job_type=st.sampled_from([None, JobType.PROVISIONAL, JobType.FINAL]),
    data=st.data(),
)
def test_judging_chunks_in_any_split_and_order_then_finishing_decides_as_the_whole_batch(
    fields: list[dict[str, str]],
    existing: list[AchievementState],
    job_type: JobType | None,
    data: st.DataObject,
) -> None:
    records = [record(line=4 + index, **values) for index, values in enumerate(fields)]
    whole = batch(records, job_type)
    states = _existing(existing)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=5), label="cuts"))
    bounds = [0, *cuts, len(records)]
    chunks = [records[start:end] for start, end in pairwise(bounds)]
    arrival = data.draw(st.permutations(range(len(chunks))), label="arrival")

    judging = BatchJudging(whole.batch_id, AO, whole.header.effective_job_type, TODAY)
    judged = {}
    for index in arrival:  # each chunk with a reference of its own, as each is looked up on its own
        reference = ReferenceSnapshot(REFERENCE.catalogue, REFERENCE.awarding_organisations, REFERENCE.learners)
        judged[index] = judging.judge(chunks[index], reference, states)
    chunked = judging.finish(whole, [judged[index] for index in range(len(chunks))])

    assert chunked == decide_batch(whole, REFERENCE, states, TODAY)


def test_a_duplicate_across_two_chunks_is_found_when_the_batch_is_finished() -> None:
    records = [record(line=4), record(line=5, uln=ULN_2), record(line=6)]
    whole = batch(records)
    judging = BatchJudging(whole.batch_id, AO, whole.header.effective_job_type, TODAY)
    second = judging.judge(records[2:], REFERENCE, {})
    first = judging.judge(records[:2], REFERENCE, {})

    decision = judging.finish(whole, [first, second])

    assert [finding.code for finding in decision.outcomes[2].errors] == ["RV020"]
    assert [outcome.line for outcome in decision.outcomes] == [4, 5, 6]


def test_a_chunk_judged_against_another_catalogue_is_not_judged_from_what_the_first_one_said() -> None:
    records: list[SubmittedRecord] = [record(line=4), record(line=5, uln=ULN_2)]
    empty = ReferenceSnapshot(Catalogue(), REFERENCE.awarding_organisations, REFERENCE.learners)
    judging = BatchJudging(BATCH_ID, AO, batch(records).header.effective_job_type, TODAY)
    judging.judge(records[:1], REFERENCE, {})

    later = judging.finish(batch(records[1:]), [judging.judge(records[1:], empty, {})])

    assert [finding.code for finding in later.outcomes[0].errors] == ["RV005"]
