"""The offline checker runs the decider's rules minus those that need the server."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    CATALOGUE,
    GCSE,
    OTHER_AO,
    OTHER_AOS_QUALIFICATION,
    QCF_UNIT,
    TODAY,
    ULN,
    ULN_2,
    UNREGISTERED_ULN,
    decide,
    header,
    record,
)

from lrs_contracts.batch import JobType, SubmittedRecord
from lrs_contracts.outcomes import RecordStatus
from lrs_domain.decision import OfflineReport, check_batch_offline


def offline(*records: SubmittedRecord, job_type: JobType | None = None, ao_id: str = AO) -> OfflineReport:
    return check_batch_offline(header(job_type, ao_id), records, CATALOGUE, TODAY)


def offline_codes(report: OfflineReport, index: int = 0) -> list[str]:
    return [finding.code for finding in report.outcomes[index].errors]


def test_a_valid_record_is_projected_accepted_without_an_achievement_id() -> None:
    report = offline(record())
    assert report.outcomes[0].status is RecordStatus.ACCEPTED
    assert report.outcomes[0].achievement_id is None
    assert report.failure is None


def test_learner_verification_needs_the_server() -> None:
    assert offline(record(uln=UNREGISTERED_ULN)).outcomes[0].status is RecordStatus.ACCEPTED
    assert offline_codes(offline(record(uln="1000000042"))) == ["RV002"]


def test_achievement_state_needs_the_server() -> None:
    report = offline(record(action="Update"), record(line=5, action="Reinstate", uln=ULN_2))
    assert [outcome.status for outcome in report.outcomes] == [RecordStatus.ACCEPTED, RecordStatus.ACCEPTED]


def test_same_achievement_twice_is_known_offline() -> None:
    report = offline(record(line=4), record(line=5), record(line=6, uln=ULN_2), record(line=7, uln=ULN_2, grade="4"))
    assert offline_codes(report, 1) == ["RV020"]


def test_rv022_when_the_header_ao_is_in_the_catalogue() -> None:
    report = offline(record(qualification_number=OTHER_AOS_QUALIFICATION, grade="A"), ao_id=AO)
    assert offline_codes(report) == ["RV022"]


def test_rv022_is_skipped_when_the_header_ao_awards_nothing_in_the_catalogue() -> None:
    report = offline(record(qualification_number=OTHER_AOS_QUALIFICATION, grade="A"), ao_id="RN0001")
    assert report.outcomes[0].status is RecordStatus.ACCEPTED
    assert offline_codes(offline(record(), ao_id=OTHER_AO)) == ["RV022"]


def test_job_type_rules_apply_offline() -> None:
    report = offline(record(qualification_number=QCF_UNIT, grade="Pass"), job_type=JobType.PROVISIONAL)
    assert offline_codes(report) == ["RV011"]


def test_the_projected_rs005_outcome() -> None:
    passing = offline(
        *(record(line=4 + index, uln=ULN, award_date=f"20{10 + index}-06-01") for index in range(7)),
        *(record(line=20 + index, uln="123") for index in range(3)),
    )
    assert passing.failure is None
    assert (passing.counts.accepted, passing.counts.rejected) == (7, 3)
    failing = offline(
        *(record(line=4 + index, award_date=f"20{10 + index}-06-01") for index in range(6)),
        *(record(line=20 + index, uln="123") for index in range(4)),
    )
    assert failing.failure is not None
    assert failing.failure.code == "RS005"


record_variants = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["Create", None, "Delete"]),
        "uln": st.sampled_from([ULN, ULN_2, "1000000042", "9999999999", "12", None]),
        "qualification_number": st.sampled_from([GCSE, "603/0304/9", QCF_UNIT, "600/1166/X", "bad", None]),
        "award_date": st.sampled_from(["2024-08-22", "2006-08-31", "2030-01-01", "nope", None]),
        "grade": st.sampled_from(["5", "Pass", "Fail", "A", None]),
        "centre_ukprn": st.sampled_from(["10001234", "1", None]),
        "language_for_assessment": st.sampled_from(["English", "english", None]),
        "gender": st.sampled_from(["1", "3", None]),
        "credits": st.sampled_from(["3", "-3", None]),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(record_variants, min_size=1, max_size=8), st.sampled_from([None, JobType.FINAL, JobType.PROVISIONAL]))
def test_offline_and_server_agree_on_every_rule_that_needs_no_server(
    variants: list[dict[str, str | None]], job_type: JobType | None
) -> None:
    # The learners are registered with these names and no achievement exists yet, so the only
    # differences allowed are the achievement ids, which the offline checker never knows.
    records = [record(line=4 + index, **fields) for index, fields in enumerate(variants)]
    report = offline(*records, job_type=job_type)
    decision = decide(*records, job_type=job_type)
    assert [outcome.model_copy(update={"achievement_id": None}) for outcome in decision.outcomes] == list(
        report.outcomes
    )
    assert report.counts == decision.counts
    assert (report.failure is None) is (decision.failure is None)
