"""The shortcuts judging takes for the common record (decision 0114) say what the rules say one by one.

`judge_record` calls a check only when its value may break its rule, verifies a learner whose details
match without `verify_learner`, and a new achievement's recording is built without `_event`; the
oracle here is the rules called in turn, as `judge_record` called them before, and `_event` itself.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    BATCH_ID,
    GCSE,
    GCSE_A_STAR,
    MASTER_ULN,
    MERGED_ULN,
    OTHER_AOS_QUALIFICATION,
    QCF_QUALIFICATION,
    QCF_UNIT,
    REFERENCE,
    TODAY,
    TWO_PATHWAYS,
    ULN,
    ULN_2,
    ULN_3,
    UNREGISTERED_ULN,
    VOCATIONAL,
    batch,
    decide,
    record,
    state,
)

from lrs_contracts.batch import JobType, SubmittedRecord
from lrs_contracts.outcomes import Finding, RecordStatus
from lrs_contracts.plr import AchievementData
from lrs_domain.achievements import _moved, evolve
from lrs_domain.decision import BatchJudging, _event, _Events, decide_batch
from lrs_domain.identifiers import is_well_formed_uln, mask_uln
from lrs_domain.rules import (
    _GRADED_ACTIONS,
    _TEXT_FIELDS,
    AchievementAddress,
    Change,
    JudgedRecord,
    RuleContext,
    _judge_qualification,
    _JudgedQualification,
    check_action,
    check_award_date,
    check_credits,
    check_date_of_birth,
    check_gender,
    check_grade,
    check_language,
    check_mandatory_fields,
    check_mis_identifier,
    check_name_lengths,
    check_ukprn,
    check_uln,
    first_line_out_of_uln_order,
    judge_record,
    trimmed,
    verify_learner,
)
from lrs_domain.trusted import trusted

_FIELDS = st.fixed_dictionaries(
    {
        "action": st.sampled_from([None, "Create", "Update", "Withdraw", "Reinstate", "Delete", "create", " "]),
        "mis_identifier": st.sampled_from([None, "CAND-1", "x" * 128, "x" * 129]),
        "uln": st.sampled_from(
            [None, ULN, ULN_2, ULN_3, MERGED_ULN, MASTER_ULN, UNREGISTERED_ULN, "1000000042", "9999999999", "12345"]
        ),
        "given_name": st.sampled_from(
            [None, "Lily", "lily", "LILY ", "Niamh", "Dylan", "Siân", "x" * 36, "A" + "\u0344" * 34, ""]
        ),
        "family_name": st.sampled_from([None, "McCarthy", "mccarthy", "King", "Lewis", "O'Neill", "y" * 40]),
        "date_of_birth": st.sampled_from(
            [None, "1999-11-27", "1996-03-24", "2007-05-13", "27/11/1999", "2001-02-30", "1899-12-31", "2099-01-01"]
        ),
        "gender": st.sampled_from([None, "0", "2", "9", "7"]),
        "qualification_number": st.sampled_from(
            [
                None,
                GCSE,
                "603/0304/9",
                GCSE_A_STAR,
                VOCATIONAL,
                QCF_QUALIFICATION,
                QCF_UNIT,
                TWO_PATHWAYS,
                OTHER_AOS_QUALIFICATION,
                "60303048",
                "ABC",
                "99999999",
            ]
        ),
        "pathway": st.sampled_from([None, "Science", "Art"]),
        "award_date": st.sampled_from([None, "2024-08-22", "2006-08-31", "2099-01-01", "22/08/2024", "2024-02-30"]),
        "grade": st.sampled_from([None, "5", "4", "C", "Pass", "Fail", "Z"]),
        "centre_ukprn": st.sampled_from([None, "10001234", "1234"]),
        "language_for_assessment": st.sampled_from([None, "English", "Welsh", "French"]),
        "credits": st.sampled_from([None, "10", "0", "ten", "9" * 5000]),
    }
)
_CONTEXTS = st.fixed_dictionaries(
    {
        "job_type": st.sampled_from([JobType.FINAL, JobType.PROVISIONAL]),
        "ao_id": st.sampled_from([AO, None]),
        "with_learners": st.booleans(),
    }
)


def _context(job_type: JobType, ao_id: str | None, with_learners: bool) -> RuleContext:
    return RuleContext(
        job_type=job_type,
        catalogue=REFERENCE.catalogue,
        today=TODAY,
        ao_id=ao_id,
        learners=REFERENCE.learners if with_learners else None,
        merges=REFERENCE.merges if with_learners else None,
    )


def _judged_rule_by_rule(record: SubmittedRecord, context: RuleContext) -> JudgedRecord:
    """`judge_record` as it was before decision 0114: every check called, in turn, and nothing remembered."""
    record = trimmed(record)
    errors: list[Finding] = []
    warnings: list[Finding] = []
    action, found = check_action(record.action)
    errors += found
    errors += check_mandatory_fields(record, action)
    errors += check_name_lengths(record)
    errors += check_mis_identifier(record.mis_identifier)
    errors += check_gender(record.gender)
    date_of_birth, found = check_date_of_birth(record.date_of_birth, context.today)
    errors += found
    uln = record.uln
    uln_errors = check_uln(uln)
    errors += uln_errors
    recorded_uln: str | None = None
    if uln is not None and not uln_errors:
        recorded_uln = uln
        if context.learners is not None and context.merges is not None:
            recorded_uln, found = verify_learner(
                uln, record.given_name, record.family_name, date_of_birth, context.learners, context.merges
            )
            errors += found
    judged: _JudgedQualification = _judge_qualification(record.qualification_number, record.pathway, context)
    errors += judged.errors
    warnings += judged.warnings
    award_date, found = check_award_date(record.award_date, context.today)
    errors += found
    errors += check_grade(record.grade, judged.qan, judged.qualification, judged.qcf)  # every grade given (0173)
    ukprn_errors = check_ukprn(record.centre_ukprn)
    language_errors = check_language(record.language_for_assessment)
    credits, credit_errors = check_credits(record.credits)
    errors += ukprn_errors + language_errors + credit_errors
    address = None
    if recorded_uln is not None and judged.qan is not None and award_date is not None:
        address = AchievementAddress(recorded_uln, judged.qan.normalised, award_date)
    data = None
    if (
        action in _GRADED_ACTIONS
        and record.grade is not None
        and judged.qualification is not None
        and not (ukprn_errors or language_errors or credit_errors)
    ):
        data = trusted(
            AchievementData,
            pathway=judged.qualification.pathway,
            grade=record.grade,
            ukprn=record.centre_ukprn,
            language_for_assessment=record.language_for_assessment,
            credits=credits,
        )
    return JudgedRecord(record, action, tuple(errors), tuple(warnings), address, judged.qualification, data)


@settings(max_examples=400, deadline=None)
@given(records=st.lists(_FIELDS, min_size=1, max_size=8), context_values=_CONTEXTS)
def test_judging_a_record_finds_what_each_rule_finds_in_turn(
    records: list[dict[str, Any]], context_values: dict[str, Any]
) -> None:
    context = _context(**context_values)  # one memo for the records, as a batch's
    for line, fields in enumerate(records, start=4):
        submitted = SubmittedRecord(line=line, **fields)
        assert judge_record(submitted, context) == _judged_rule_by_rule(submitted, _context(**context_values))


def test_the_oracle_sees_the_rules_the_shortcuts_skip() -> None:
    """The comparison above is worth something only if records break the rules the shortcuts guard."""
    submitted = SubmittedRecord(
        line=4,
        action="Delete",
        mis_identifier="x" * 129,
        uln=ULN,
        given_name="x" * 36,
        family_name="McCarthy",
        date_of_birth="2001-02-30",
        gender="7",
        qualification_number=GCSE,
        award_date="2024-08-22",
        grade="5",
        centre_ukprn="1234",
        language_for_assessment="French",
        credits="ten",
    )
    judged = judge_record(submitted, _context(JobType.FINAL, AO, with_learners=True))

    assert [(finding.code, finding.field) for finding in judged.errors] == [
        ("RV021", "action"),
        ("RV021", "given_name"),
        ("RV021", "mis_identifier"),
        ("RV021", "gender"),
        ("RV021", "date_of_birth"),
        ("RV004", "uln"),
        ("RV018", "centre_ukprn"),
        ("RV019", "language_for_assessment"),
        ("RV021", "credits"),
    ]
    assert judged == _judged_rule_by_rule(submitted, _context(JobType.FINAL, AO, with_learners=True))


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(_FIELDS, min_size=1, max_size=8), job_type=st.sampled_from([JobType.FINAL, JobType.PROVISIONAL])
)
def test_a_new_achievements_recording_is_the_event_event_builds(
    records: list[dict[str, Any]], job_type: JobType
) -> None:
    context = _context(job_type, AO, with_learners=True)
    events = _Events(BATCH_ID, AO, job_type)
    for line, fields in enumerate(records, start=4):
        judged = judge_record(SubmittedRecord(line=line, **fields), context)
        if judged.errors or judged.address is None or judged.data is None or judged.qualification is None:
            continue
        built = events.of(judged, Change.RECORD, None)
        assert built == _event(judged, Change.RECORD, None, BATCH_ID, AO, job_type, {}, events._ids)
        assert evolve(None, built) == _moved(None, built)[0]  # type: ignore[index]


def test_a_merged_learners_recording_is_keyed_under_the_ulns_it_was_merged_into() -> None:
    judged = judge_record(
        record(uln=MERGED_ULN, date_of_birth="1996-03-24"), _context(JobType.FINAL, AO, with_learners=True)
    )
    assert judged.address is not None
    assert judged.address.uln == MASTER_ULN

    built = _Events(BATCH_ID, AO, JobType.FINAL).of(judged, Change.RECORD, None)

    assert built.key.uln == MASTER_ULN
    assert built == _event(
        judged, Change.RECORD, None, BATCH_ID, AO, JobType.FINAL, {}, _Events(BATCH_ID, AO, JobType.FINAL)._ids
    )


def test_outcomes_mask_every_uln_as_mask_uln_does() -> None:
    ulns = [ULN, "12345", "1234", "1", " 1000000043 ", "100000004X", None]
    decision = decide_batch(
        batch([record(line=4 + index, uln=uln) for index, uln in enumerate(ulns)]), REFERENCE, {}, TODAY
    )

    assert [outcome.uln_masked for outcome in decision.outcomes] == [
        mask_uln(uln.strip()) if uln else None for uln in ulns
    ]


def test_a_batch_judged_with_the_shortcuts_states_each_records_findings_in_code_order() -> None:
    judging = BatchJudging(BATCH_ID, AO, JobType.FINAL, TODAY)
    records = [
        record(line=4, grade="Z", centre_ukprn="1234", award_date="2099-01-01"),
        record(line=5, uln="1000000042", qualification_number="ABC"),
    ]
    decision = judging.finish(batch(records), [judging.judge(records, REFERENCE, {})])

    assert [[finding.code for finding in outcome.errors] for outcome in decision.outcomes] == [
        ["RV009", "RV008", "RV018"],
        ["RV006", "RV002"],
    ]
    assert decision.outcomes[0].errors == decide_batch(batch(records), REFERENCE, {}, TODAY).outcomes[0].errors
    assert date(2099, 1, 1) > TODAY


_TEXTS = st.one_of(st.none(), st.sampled_from(["", " ", "a", " a", "a ", "\ta\n", "\u00a0a", "a\u2003", "1000000043"]))


def _trimmed_field_by_field(submitted: SubmittedRecord) -> SubmittedRecord:
    values = {
        name: (value.strip() or None) if isinstance(value, str) and name in _TEXT_FIELDS else value
        for name, value in submitted.__dict__.items()
    }
    return SubmittedRecord(**values)


@settings(max_examples=300, deadline=None)
@given(texts=st.fixed_dictionaries({name: _TEXTS for name in _TEXT_FIELDS}))
def test_trimming_gives_each_value_stripped_and_the_record_itself_when_nothing_changes(
    texts: dict[str, str | None],
) -> None:
    submitted = SubmittedRecord(line=4, **texts)

    result = trimmed(submitted)

    assert result == _trimmed_field_by_field(submitted)
    assert (result is submitted) == (result == submitted)


_ONE, _TWO, _THREE = "1000000001", "2000000002", "3000000003"  # well formed (the check digits do not matter here)


@settings(max_examples=300, deadline=None)
@given(
    ulns=st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["", " ", _TWO, _ONE, f" {_THREE}", f"{_ONE} ", f"\u2003{_ONE}", _THREE]),
            st.sampled_from(["2", "999999999", "30000000030", "0000000001", "2x00000002", "\u0662000000002"]),
        ),
        max_size=6,
    )
)
def test_the_first_line_out_of_uln_order_compares_the_well_formed_ulns_trimmed(ulns: list[str | None]) -> None:
    """Records without a ULN, or with one not well formed once trimmed (RV001), are passed over."""
    records = [SubmittedRecord(line=4 + index, uln=uln) for index, uln in enumerate(ulns)]
    cleaned = [(record.line, record.uln.strip() if record.uln else None) for record in records]
    present = [(line, uln) for line, uln in cleaned if uln and is_well_formed_uln(uln)]
    expected = next((line for (_, before), (line, uln) in pairwise(present) if uln < before), None)

    assert first_line_out_of_uln_order(records) == expected


def test_a_no_op_names_its_achievement_whether_or_not_the_batch_fails() -> None:
    existing = state()
    no_op, accepted = record(line=4), record(line=5, uln=ULN_2)
    rejected = [record(line=6 + index, uln="1000000042") for index in range(3)]

    passed = decide(no_op, accepted, existing=[existing])
    failed = decide(no_op, accepted, *rejected, existing=[existing])

    assert [outcome.status for outcome in passed.outcomes] == [RecordStatus.NO_OP, RecordStatus.ACCEPTED]
    assert passed.outcomes[0].achievement_id == existing.achievement_id
    assert passed.outcomes[1].achievement_id == passed.events[0].achievement_id
    assert failed.failure is not None
    assert [outcome.achievement_id for outcome in failed.outcomes] == [existing.achievement_id, None, None, None, None]
    assert (failed.counts.no_ops, failed.counts.accepted, failed.counts.rejected) == (1, 1, 3)
