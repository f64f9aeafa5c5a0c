"""Every record-level code, each with a rejected and an accepted example (state rules: test_domain_state_rules)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    GCSE,
    GCSE_A_STAR,
    LEARNERS,
    MASTER_ULN,
    MERGED_ULN,
    OTHER_AOS_QUALIFICATION,
    QCF_QUALIFICATION,
    QCF_UNIT,
    TODAY,
    TWO_PATHWAYS,
    ULN,
    ULN_2,
    ULN_3,
    UNREGISTERED_ULN,
    VOCATIONAL,
    codes,
    decide,
    record,
    state,
    warning_codes,
)

from lrs_contracts.batch import JobType
from lrs_contracts.codes import RecordCode
from lrs_contracts.outcomes import RecordStatus
from lrs_contracts.plr import AchievementRecorded, ResultStatus
from lrs_domain.identifiers import TEMPORARY_ULN
from lrs_domain.merges import LearnerMerges
from lrs_domain.reference import Learner
from lrs_domain.rules import (
    CODE_ORDER,
    check_mis_identifier,
    check_uln,
    exceeds_rejection_threshold,
    order_findings,
    verify_learner,
    why_no_learner_has,
)


def assert_accepted(**fields: Any) -> None:
    decision = decide(record(**fields))
    outcome = decision.outcomes[0]
    assert outcome.errors == ()
    assert outcome.status is RecordStatus.ACCEPTED


def assert_rejected(expected: list[str], *, job_type: JobType | None = None, **fields: Any) -> None:
    decision = decide(record(**fields), job_type=job_type)
    assert decision.outcomes[0].status is RecordStatus.REJECTED
    assert codes(decision) == expected


# --- ULN: RV001, RV002, RV003 ---------------------------------------------------------------------


@pytest.mark.parametrize("uln", ["123456789", "0123456789", "10000000431", "100000004X"])
def test_rv001_badly_formed_uln(uln: str) -> None:
    assert_rejected(["RV001"], uln=uln)


def test_rv001_rv002_rv003_a_valid_uln_is_accepted() -> None:
    assert_accepted(uln=ULN)


@pytest.mark.parametrize("uln", ["1000000042", "1000000063", "1234567890"])
def test_rv002_uln_check_digit(uln: str) -> None:
    assert_rejected(["RV002"], uln=uln)


def test_rv003_temporary_uln_is_reported_as_such_only() -> None:
    assert_rejected(["RV003"], uln="9999999999", given_name="Test", family_name="Learner")


# --- RV004 learner verification ------------------------------------------------------------------


def test_rv004_uln_not_registered() -> None:
    assert_rejected(["RV004"], uln=UNREGISTERED_ULN)


@pytest.mark.parametrize(
    "fields",
    [
        {"family_name": "McCartney"},
        {"given_name": "Lilly"},
        {"date_of_birth": "1999-11-28"},
    ],
)
def test_rv004_details_do_not_match(fields: dict[str, Any]) -> None:
    assert_rejected(["RV004"], **fields)


def test_rv004_names_compare_trimmed_and_case_insensitively_and_dob_exactly() -> None:
    assert_accepted(given_name="  LILY ", family_name="mccarthy", date_of_birth="1999-11-27")


@pytest.mark.parametrize("given_name", ["Sia\u0302n", "SIÂN", "SIA\u0302N", " sia\u0302n "])
def test_rv004_a_name_matches_in_whichever_unicode_form_it_was_written(given_name: str) -> None:
    """Siân is registered composed (â); a Mac's tools write a and a combining circumflex (decision 0167)."""
    assert_accepted(uln=ULN_3, given_name=given_name, family_name="O'Neill")


@pytest.mark.parametrize(("given_name", "family_name"), [("Sian", "O'Neill"), ("Siân", "O\u2019Neill")])
def test_rv004_a_different_letter_or_a_curly_apostrophe_is_another_name(given_name: str, family_name: str) -> None:
    assert_rejected(["RV004"], uln=ULN_3, given_name=given_name, family_name=family_name)


@pytest.mark.parametrize("given_name", ["Siân", "SIA\u0302N"])  # the judge's fast path, and `verify_learner`'s
def test_rv004_a_date_of_birth_given_for_a_learner_registered_without_one_contradicts_nothing(given_name: str) -> None:
    """DOMAIN.md §5 rule 6, "date of birth where given" (decision 0187): the registration has none to differ from, so
    the record is verified on its names."""
    assert_accepted(uln=ULN_3, given_name=given_name)
    assert_accepted(uln=ULN_3, given_name=given_name, date_of_birth="2000-01-01")
    assert_rejected(["RV004"], uln=ULN_3, given_name="Sian", date_of_birth="2000-01-01")  # the names still count
    assert_rejected(["RV004"], uln=ULN_3, given_name=given_name, family_name="ONeill", date_of_birth="2000-01-01")


def test_rv004_a_date_of_birth_given_for_a_learner_registered_with_one_still_has_to_match() -> None:
    assert_accepted(date_of_birth="1999-11-27")
    assert_rejected(["RV004"], date_of_birth="2000-01-01")
    assert_rejected(["RV004"], given_name="LILY", date_of_birth="2000-01-01")


def test_rv004_a_merged_ulns_own_registration_without_a_date_of_birth_verifies_a_record_that_gives_one() -> None:
    """A merged ULN matches its own registration or its master's (decision 0031), each on the same terms."""
    merged = Learner(MERGED_ULN, "Niamh", "King", None, 2, 1, master_uln=MASTER_ULN)
    learners = {**LEARNERS, MERGED_ULN: merged}
    merges = LearnerMerges.of(learners.values())

    assert verify_learner(MERGED_ULN, "Niamh", "King", date(2001, 1, 1), learners, merges) == (MASTER_ULN, ())
    assert verify_learner(MASTER_ULN, "Niamh", "King", date(2001, 1, 1), learners, merges)[1] != ()


def test_rv004_says_the_same_whichever_detail_differs_and_holds_no_personal_data() -> None:
    """Naming the field would confirm a learner's name or date of birth one guess at a time (decision 0157)."""
    mismatches: list[dict[str, Any]] = [
        {"family_name": "McCartney", "date_of_birth": "1999-11-28"},
        {"family_name": "McCartney"},
        {"given_name": "Lilly"},
        {"date_of_birth": "1999-11-28"},
    ]
    findings = {
        (finding.field, finding.message)
        for fields in mismatches
        for finding in decide(record(**fields)).outcomes[0].errors
    }
    ((field, message),) = findings
    assert field == "uln"
    assert "do not match the learner registered with ULN ******0043" in message
    for personal in ("McCartney", "McCarthy", "Lily", "1999", ULN):
        assert personal not in message


def test_a_merged_uln_is_verified_and_lands_on_the_master_uln() -> None:
    decision = decide(record(uln=MERGED_ULN))
    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert decision.outcomes[0].uln_masked == "******0028"
    (event,) = decision.events
    assert event.key.uln == MASTER_ULN


# --- RV005, RV006 qualification number -----------------------------------------------------------


def test_rv005_qan_not_in_catalogue() -> None:
    assert_rejected(["RV005"], qualification_number="600/1166/X")


def test_rv005_rv006_a_catalogued_qan_is_accepted_in_either_form() -> None:
    assert_accepted(qualification_number="603/0304/9")
    assert_accepted(qualification_number=GCSE)


def test_rv005_a_qan_with_several_pathways_needs_the_pathway() -> None:
    assert_rejected(["RV005"], qualification_number=TWO_PATHWAYS, grade="Merit")
    assert_rejected(["RV005"], qualification_number=TWO_PATHWAYS, pathway="Art", grade="Merit")
    assert_accepted(qualification_number=TWO_PATHWAYS, pathway="Science", grade="Merit")


def test_rv005_a_pathway_the_single_row_does_not_have_is_unknown() -> None:
    assert_rejected(["RV005"], pathway="Science")


def test_the_pathway_is_stored_from_the_catalogue_row() -> None:
    decision = decide(record(qualification_number=TWO_PATHWAYS, pathway="Development", grade="Pass"))
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.data.pathway == "Development"


@pytest.mark.parametrize("qan", ["600-1166-X", "6001166", "60/1166/X", "ABC", "K5015773"])
def test_rv006_badly_formed_qan(qan: str) -> None:
    assert_rejected(["RV006"], qualification_number=qan)


# --- RV007, RV008 award date ---------------------------------------------------------------------


def test_rv007_award_date_before_september_2006() -> None:
    assert_rejected(["RV007"], award_date="2006-08-31")


def test_rv007_first_of_september_2006_is_accepted() -> None:
    assert_accepted(award_date="2006-09-01")


@pytest.mark.parametrize("award_date", ["2024-02-30", "22/08/2024", "20240822", "2024-8-22", "yesterday"])
def test_rv008_unreadable_award_date(award_date: str) -> None:
    assert_rejected(["RV008"], award_date=award_date)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("2023-02-29", "Award date '2023-02-29' is written yyyy-mm-dd, but the calendar has no such day."),
        (
            "2024\u201106\u201101",
            "is not a date written yyyy-mm-dd: it holds a character other than the digits 0-9 and '-'.",
        ),
        (
            "01/06/2024",
            "Award date '01/06/2024' is not a date written yyyy-mm-dd: write it as 2024-06-01 (1 June 2024).",
        ),
    ],
)
def test_rv008_says_whether_the_day_does_not_exist_or_is_not_written_yyyy_mm_dd(written: str, said: str) -> None:
    """A day the calendar lacks is written as asked, and a non-breaking hyphen looks as asked: "expected yyyy-mm-dd"
    told neither writer what to change."""
    [finding] = decide(record(award_date=written)).outcomes[0].errors
    assert finding.code == "RV008" and said in finding.message


def test_a_date_of_birth_the_calendar_lacks_is_said_so_without_repeating_it() -> None:
    [finding] = [f for f in decide(record(date_of_birth="1999-11-31")).outcomes[0].errors if f.field == "date_of_birth"]
    assert finding.message == "Date of birth is written yyyy-mm-dd, but the calendar has no such day."


def test_rv008_award_date_in_the_future() -> None:
    assert_rejected(["RV008"], award_date=(TODAY + timedelta(days=1)).isoformat())


def test_rv008_award_date_today_is_accepted() -> None:
    assert_accepted(award_date=TODAY.isoformat())


# --- RV009, RV010, RV011 grades and QCF ----------------------------------------------------------


@pytest.mark.parametrize(("qan", "grade"), [(GCSE, "A"), (GCSE, "10"), (VOCATIONAL, "PASS"), (GCSE_A_STAR, "A**")])
def test_rv009_grade_not_in_the_grade_set(qan: str, grade: str) -> None:
    assert_rejected(["RV009"], qualification_number=qan, grade=grade)


@pytest.mark.parametrize(
    ("qan", "grade"), [(GCSE, "9"), (VOCATIONAL, "Distinction*"), (GCSE_A_STAR, "U"), (GCSE_A_STAR, "X")]
)
def test_rv009_grades_in_the_set_are_accepted_including_nqf_u_and_x(qan: str, grade: str) -> None:
    assert_accepted(qualification_number=qan, grade=grade)


@pytest.mark.parametrize(
    ("qan", "grade"), [(QCF_UNIT, "Fail"), (QCF_UNIT, "U"), (QCF_QUALIFICATION, "Fail"), (QCF_QUALIFICATION, "X")]
)
def test_rv010_failed_qcf_results_are_not_uploaded(qan: str, grade: str) -> None:
    assert_rejected(["RV010"], qualification_number=qan, grade=grade)


def test_rv010_passed_qcf_results_are_accepted() -> None:
    assert_accepted(qualification_number=QCF_UNIT, grade="Pass")
    assert_accepted(qualification_number=QCF_QUALIFICATION, grade="Merit")


def test_rv010_a_failed_grade_of_an_unknown_unit_is_still_a_failed_qcf_result() -> None:
    assert_rejected(["RV010", "RV005"], qualification_number="A/999/0001", grade="Fail")


def test_rv011_qcf_result_in_a_provisional_batch() -> None:
    assert_rejected(["RV011"], job_type=JobType.PROVISIONAL, qualification_number=QCF_UNIT, grade="Pass")
    assert_rejected(["RV011"], job_type=JobType.PROVISIONAL, qualification_number=QCF_QUALIFICATION, grade="Pass")


def test_a_failed_qcf_unit_in_a_provisional_batch_gets_rv010_then_rv011() -> None:
    # The order of the codes is part of docs/rules.md.
    assert_rejected(["RV010", "RV011"], job_type=JobType.PROVISIONAL, qualification_number=QCF_UNIT, grade="Fail")


def test_rv011_withdraw_ignores_the_job_type_but_not_rv011() -> None:
    unit = state(qualification_number=QCF_UNIT, grade="Pass")
    withdraw = record(action="Withdraw", qualification_number=QCF_UNIT, grade=None)
    assert codes(decide(withdraw, existing=[unit], job_type=JobType.PROVISIONAL)) == ["RV011"]
    assert decide(withdraw, existing=[unit], job_type=JobType.FINAL).outcomes[0].status is RecordStatus.ACCEPTED


def test_rv011_nqf_and_rqf_results_may_be_provisional() -> None:
    decision = decide(record(qualification_number=GCSE_A_STAR, grade="C"), job_type=JobType.PROVISIONAL)
    (event,) = decision.events
    assert isinstance(event, AchievementRecorded)
    assert event.status is ResultStatus.PROVISIONAL


def test_a_missing_job_type_means_final() -> None:
    (event,) = decide(record(qualification_number=QCF_UNIT, grade="Pass"), job_type=None).events
    assert isinstance(event, AchievementRecorded)
    assert event.status is ResultStatus.FINAL


# --- RV018, RV019 --------------------------------------------------------------------------------


@pytest.mark.parametrize("ukprn", ["1000123", "100012345", "1000123X"])
def test_rv018_badly_formed_ukprn(ukprn: str) -> None:
    assert_rejected(["RV018"], centre_ukprn=ukprn)


def test_rv018_ukprn_is_optional_and_eight_digits() -> None:
    assert_accepted(centre_ukprn="10001234")
    assert_accepted(centre_ukprn=None)


@pytest.mark.parametrize("language", ["english", "ENGLISH", "French", "Cymraeg"])
def test_rv019_language_not_recognised(language: str) -> None:
    assert_rejected(["RV019"], language_for_assessment=language)


@pytest.mark.parametrize("language", ["English", "Welsh", "Irish", None])
def test_rv019_known_languages_are_accepted(language: str | None) -> None:
    assert_accepted(language_for_assessment=language)


# --- RV020 same achievement twice in one batch ---------------------------------------------------


def test_rv020_the_later_record_for_the_same_achievement_is_rejected() -> None:
    decision = decide(record(line=4), record(line=5, grade="6"), record(line=6, uln=ULN_2), record(line=7, uln=ULN_3))
    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert codes(decision, 1) == ["RV020"]
    assert "Line 4" in decision.outcomes[1].errors[0].message
    assert [event.provenance.line for event in decision.events] == [4, 6, 7]


def test_rv020_the_same_qualification_at_another_award_date_is_another_achievement() -> None:
    decision = decide(record(line=4), record(line=5, award_date="2023-08-24"))
    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED, RecordStatus.ACCEPTED]


def test_rv020_a_merged_uln_and_its_master_address_the_same_achievement() -> None:
    decision = decide(record(line=4, uln=MASTER_ULN), record(line=5, uln=MERGED_ULN))
    assert codes(decision, 1) == ["RV020"]


def test_rv020_applies_whatever_the_actions() -> None:
    decision = decide(record(line=4), record(line=5, action="Withdraw"))
    assert codes(decision, 1) == ["RV020", "RV012"]


# --- RV021 mandatory, too long, not allowed ------------------------------------------------------


@pytest.mark.parametrize("field", ["uln", "given_name", "family_name", "qualification_number", "award_date", "grade"])
def test_rv021_mandatory_field_missing_for_create(field: str) -> None:
    missing: dict[str, Any] = {field: None}
    decision = decide(record(**missing))
    assert codes(decision)[-1] == "RV021"
    assert decision.outcomes[0].errors[-1].field == field


def test_rv021_an_empty_value_is_a_missing_one() -> None:
    assert_rejected(["RV021"], given_name="   ")


def test_rv021_grade_is_not_needed_to_withdraw() -> None:
    decision = decide(record(action="Withdraw", grade=None), existing=[state()])
    assert decision.outcomes[0].status is RecordStatus.ACCEPTED


@pytest.mark.parametrize("action", ["Withdraw", "Reinstate"])
def test_rv009_a_withdraw_or_reinstate_grade_is_checked_when_given_as_its_ukprn_language_and_credits_are(
    action: str,
) -> None:
    live_or_withdrawn = state(withdrawn=action == "Reinstate")
    decision = decide(record(action=action, grade="ZZZ"), existing=[live_or_withdrawn])
    assert codes(decision) == ["RV009"]
    assert decide(record(action=action), existing=[live_or_withdrawn]).outcomes[0].status is RecordStatus.ACCEPTED


def test_rv021_unknown_action() -> None:
    assert_rejected(["RV021"], action="Delete")
    assert_rejected(["RV021"], action="create")


def test_a_missing_action_means_create() -> None:
    decision = decide(record(action=None))
    assert decision.outcomes[0].action == "Create"
    assert isinstance(decision.events[0], AchievementRecorded)


def test_rv021_names_are_at_most_35_trimmed_characters() -> None:
    assert_rejected(["RV004", "RV021"], given_name="L" * 36)
    decision = decide(record(uln=UNREGISTERED_ULN, given_name=" " + "L" * 35 + " "))
    assert codes(decision) == ["RV004"]  # 35 characters after trimming: long enough, just not registered


def test_rv021_a_names_length_counts_a_combining_accent_with_its_letter() -> None:
    """35 characters, five of them accented: 40 code points when decomposed (decision 0167)."""
    decomposed = "Gwenlli\u0308an Sia\u0302n Lly\u0302r Ffraid Do\u0302n Ele\u0301n"
    assert len(decomposed) > 35
    decision = decide(record(uln=UNREGISTERED_ULN, given_name=decomposed))
    assert codes(decision) == ["RV004"]
    assert_rejected(["RV004", "RV021"], given_name=decomposed + "e\u0301")


def test_rv021_a_name_that_composes_longer_is_counted_composed() -> None:
    """U+0F43 (a Tibetan letter) composes to two letters (decision 0167 counts the composed form): 35 become 69."""
    assert_rejected(["RV004", "RV021"], given_name="A" + "\u0f43" * 34)
    assert_rejected(["RV004", "RV021"], family_name="K" + "\u0f43" * 34)


def test_only_a_records_text_values_are_trimmed_not_its_flags() -> None:
    assert_accepted(given_name=" Lily ", learner_erased=False)


def test_rv021_mis_identifier_is_at_most_128_characters() -> None:
    assert_rejected(["RV021"], mis_identifier="M" * 129)
    assert_accepted(mis_identifier="é" * 128)


@pytest.mark.parametrize(
    ("mis_identifier", "length"),
    [
        ("e\u0301" * 128, None),  # 128 characters written decomposed (a Mac's é): 256 code points
        ("é" * 128, None),
        ("e\u0301" * 129, 129),
        ("\u0f43" * 65, 130),  # U+0F43 composes to two letters (as names count it, decision 0167)
        ("M" * 128, None),
        ("M" * 130, 130),
    ],
)
def test_rv021_mis_identifier_characters_are_counted_in_the_composed_form(mis_identifier: str, length: int) -> None:
    """DOMAIN.md §7: the limit counts characters; one Unicode form or the other does not change the verdict."""
    findings = decide(record(mis_identifier=mis_identifier)).outcomes[0].errors
    assert findings == check_mis_identifier(mis_identifier)
    if length is None:
        assert findings == ()
    else:
        [finding] = findings
        assert (finding.code, finding.field) == ("RV021", "mis_identifier")
        assert finding.message == f"MIS identifier is {length} characters long: at most 128 are allowed."


@pytest.mark.parametrize("gender", ["0", "1", "2", "9", None])
def test_rv021_known_genders_are_accepted(gender: str | None) -> None:
    assert_accepted(gender=gender)


@pytest.mark.parametrize("gender", ["3", "M", "female", "01"])
def test_rv021_gender_must_be_0_1_2_or_9(gender: str) -> None:
    assert_rejected(["RV021"], gender=gender)


@pytest.mark.parametrize("credits", ["0", "12", "120", "9999", "0009999"])
def test_rv021_credits_may_be_a_whole_number_up_to_9999(credits: str) -> None:
    assert_accepted(credits=credits)


@pytest.mark.parametrize(
    "credits", ["-1", "1.5", "ten", "+3", "10000", "2147483648", "99999999999999999999", "9" * 5000]
)
def test_rv021_credits_otherwise_not_allowed(credits: str) -> None:
    assert_rejected(["RV021"], credits=credits)


def test_rv021_unreadable_date_of_birth_without_repeating_it() -> None:
    decision = decide(record(date_of_birth="27/11/1999"))
    assert codes(decision) == ["RV021"]
    assert "1999" not in decision.outcomes[0].errors[0].message


# --- RV022 ---------------------------------------------------------------------------------------


def test_rv022_qualification_of_another_ao() -> None:
    assert_rejected(["RV022"], qualification_number=OTHER_AOS_QUALIFICATION, grade="A")


def test_rv022_own_qualification_is_accepted() -> None:
    assert_accepted(qualification_number=GCSE)


# --- warnings ------------------------------------------------------------------------------------


def test_wv001_check_character_mismatch_warns_but_the_catalogue_decides() -> None:
    decision = decide(record(qualification_number=VOCATIONAL, grade="Merit"))
    assert decision.outcomes[0].status is RecordStatus.ACCEPTED
    assert warning_codes(decision) == ["WV001"]


def test_wv001_no_warning_when_the_check_character_matches() -> None:
    assert warning_codes(decide(record())) == []


def test_wv001_a_malformed_qan_is_rejected_not_warned() -> None:
    decision = decide(record(qualification_number="610/0007/"))
    assert (codes(decision), warning_codes(decision)) == (["RV006"], [])


def test_wv002_attached_to_the_first_record_out_of_uln_order() -> None:
    decision = decide(
        record(line=4, uln=ULN_2),
        record(line=5, uln=ULN),
        record(line=6, uln=ULN, qualification_number=GCSE_A_STAR, grade="B"),
        record(line=7, uln=ULN_3),
        record(line=8, uln=ULN, award_date="2023-08-24"),
    )
    assert [warning_codes(decision, index) for index in range(5)] == [[], ["WV002"], [], [], []]
    assert all(outcome.status is RecordStatus.ACCEPTED for outcome in decision.outcomes)
    assert decision.counts.warnings == 1


def test_wv002_none_when_ordered_by_uln() -> None:
    decision = decide(record(line=4, uln=ULN), record(line=5, uln=ULN_2), record(line=6, uln=ULN_3))
    assert decision.counts.warnings == 0


@pytest.mark.parametrize("malformed", ["999999999", "10268930960", "10x0000043", "0999999999"])
def test_wv002_passes_over_a_malformed_uln(malformed: str) -> None:
    """A mistyped ULN between two in order is rejected RV001 and moves no warning onto the valid record after it;
    one between two out of order leaves the warning on the record out of place."""
    in_order = decide(record(line=4, uln=ULN), record(line=5, uln=malformed), record(line=6, uln=ULN_2))
    out_of_order = decide(record(line=4, uln=ULN_2), record(line=5, uln=malformed), record(line=6, uln=ULN))

    assert [codes(in_order, index) for index in range(3)] == [[], ["RV001"], []]
    assert [warning_codes(in_order, index) for index in range(3)] == [[], [], []]
    assert [warning_codes(out_of_order, index) for index in range(3)] == [[], [], ["WV002"]]


# --- several codes -------------------------------------------------------------------------------


def test_code_order_names_every_record_code_once() -> None:
    assert sorted(CODE_ORDER) == sorted(RecordCode)


def test_every_code_that_applies_is_reported_most_specific_first() -> None:
    decision = decide(
        record(
            uln="1000000042",
            qualification_number="600/1166/X",
            award_date="2005-06-01",
            grade=None,
            centre_ukprn="123",
            language_for_assessment="Gaelic",
            gender="7",
        )
    )
    assert codes(decision) == ["RV005", "RV002", "RV007", "RV018", "RV019", "RV021", "RV021"]
    assert [finding.field for finding in decision.outcomes[0].errors][-2:] == ["grade", "gender"]
    assert decision.counts.rejected == 1


def test_order_findings_puts_warnings_after_errors() -> None:
    decision = decide(record(qualification_number=VOCATIONAL, grade="Merit", uln=ULN_2), record(line=5, uln=ULN))
    findings = [*decision.outcomes[1].warnings, *decision.outcomes[0].warnings]
    assert [finding.code for finding in order_findings(findings)] == ["WV001", "WV002"]


def test_results_show_masked_ulns_only() -> None:
    decision = decide(record(uln="1000000042"), record(line=5, uln=UNREGISTERED_ULN))
    for outcome in decision.outcomes:
        assert outcome.uln_masked is not None
        assert outcome.uln_masked.startswith("******")
        for finding in outcome.errors:
            assert "1000000042" not in finding.message
            assert UNREGISTERED_ULN not in finding.message


def test_threshold_helper_is_exact() -> None:
    assert not exceeds_rejection_threshold(3, 10)
    assert exceeds_rejection_threshold(3001, 10000)
    assert not exceeds_rejection_threshold(0, 0)


@given(st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_a_uln_asked_about_is_refused_for_the_same_reason_an_uploaded_one_is(uln: str) -> None:
    """`why_no_learner_has` is `check_uln` in other words: the same code for every ULN, and never the ULN quoted."""
    refusal = why_no_learner_has(uln)
    findings = check_uln(uln)
    assert (refusal.code if refusal else None) == (findings[0].code if findings else None)
    assert refusal is None or len(uln) != 10 or uln == TEMPORARY_ULN or uln not in refusal.reason


@pytest.mark.parametrize(
    ("uln", "code", "words"),
    [
        ("1000000042", RecordCode.ULN_CHECK_DIGIT, "a digit was mistyped"),
        (TEMPORARY_ULN, RecordCode.ULN_TEMPORARY, "temporary ULN"),
        ("0123456789", RecordCode.ULN_MALFORMED, "10 digits"),
    ],
)
def test_a_uln_no_learner_has_is_said_as_such_not_as_a_batch_upload(uln: str, code: RecordCode, words: str) -> None:
    refusal = why_no_learner_has(uln)
    assert refusal is not None and refusal.code == code and words in refusal.reason
    assert "uploaded" not in refusal.reason and "centre" not in refusal.reason
    assert why_no_learner_has("1000000043") is None


# --- RV021 a name that is not one line ------------------------------------------------------------
# A record value may span lines, so such a name passes the door; the registry refuses it ("a name is one line").


@pytest.mark.parametrize(
    ("character", "said"),
    [
        ("\n", "a line break (U+000A) at character 5: a name is one line"),
        ("\r", "a line break (U+000D) at character 5: a name is one line"),
        ("\x85", "a line break (U+0085) at character 5: a name is one line"),
        ("\u2028", "a line break (U+2028) at character 5: a name is one line"),
        ("\u2029", "a line break (U+2029) at character 5: a name is one line"),
        ("\u202a", "the bidirectional control U+202A at character 5 (a name is shown as it is written)"),
        ("\u202e", "the bidirectional control U+202E at character 5 (a name is shown as it is written)"),
        ("\u2066", "the bidirectional control U+2066 at character 5 (a name is shown as it is written)"),
        ("\u2069", "the bidirectional control U+2069 at character 5 (a name is shown as it is written)"),
    ],
)
@pytest.mark.parametrize("field", ["given_name", "family_name"])
def test_rv021_a_name_holding_a_line_break_or_bidi_control_names_the_character(
    field: str, character: str, said: str
) -> None:
    """Not RV004 alone ("check the learner's details with the centre"): the character is what is wrong."""
    label = {"given_name": "Given name", "family_name": "Family name"}[field]
    name = {"given_name": "Lily", "family_name": "McCa"}[field]
    refused: dict[str, Any] = {field: f"{name}{character}May"}
    decision = decide(record(**refused))
    # the name is still compared, as a name too long is (decision 0157): it matches no registered learner
    assert codes(decision) == ["RV004", "RV021"]
    finding = decision.outcomes[0].errors[-1]
    assert (finding.code, finding.field) == ("RV021", field)
    assert finding.message == f"{label} holds {said}."
    assert name not in finding.message and "May" not in finding.message
    # an unregistered ULN: its own RV004, and the same RV021
    unregistered = decide(record(uln=UNREGISTERED_ULN, **refused))
    assert codes(unregistered) == ["RV004", "RV021"]
    assert unregistered.outcomes[0].errors[-1] == finding


def test_rv021_both_names_not_one_line_are_each_named_in_field_order_with_their_length() -> None:
    decision = decide(record(given_name="L" * 18 + "\u2028" + "L" * 18, family_name="Mc\u202eCarthy"))
    assert codes(decision) == ["RV004", "RV021", "RV021", "RV021"]
    assert [(finding.field, finding.message) for finding in decision.outcomes[0].errors[1:]] == [
        ("given_name", "Given name is 37 characters long: at most 35 are allowed."),
        ("given_name", "Given name holds a line break (U+2028) at character 19: a name is one line."),
        (
            "family_name",
            "Family name holds the bidirectional control U+202E at character 3 (a name is shown as it is written).",
        ),
    ]


@pytest.mark.parametrize("given_name", ["Lily\t", " Lily\n", "\u2028Lily\u2029", "Lily\x85"])
def test_a_line_break_trimmed_from_either_end_of_a_name_is_no_fault(given_name: str) -> None:
    """Trimming takes the line breaks at either end (white space); a TAB inside a name is not a line break, but a
    space a reader cannot tell from an ordinary one (`test_domain_names_unseen`)."""
    assert_accepted(given_name=given_name)
    assert codes(decide(record(uln=UNREGISTERED_ULN, given_name="Li\tly"))) == ["RV004", "RV021"]


@pytest.mark.parametrize("mis_identifier", ["CAND\n42", "CAND\r\n42", "CAND\u202e42", "CAND\u202842"])
def test_an_mis_identifier_may_still_span_lines_and_hold_bidi_controls(mis_identifier: str) -> None:
    """Only the names are one line: other record values keep what the door lets through (docs/rules.md)."""
    assert_accepted(mis_identifier=mis_identifier)


@pytest.mark.parametrize("name", ["Siân", "Sia\u0302n", "Mary Ann", "O'Neill", "\u0645\u06cc\u200c\u0646\u0627"])
def test_a_printable_name_or_one_with_a_joiner_its_script_writes_is_not_refused(name: str) -> None:
    assert codes(decide(record(uln=UNREGISTERED_ULN, given_name=name, family_name=name))) == ["RV004"]


@pytest.mark.parametrize("name", ["Zoë\u00adLou", "Ann\u200dMarie"])
def test_a_latin_name_with_an_invisible_character_is_rv021_naming_it(name: str) -> None:
    """Decided otherwise before (the registry holds such names): a soft hyphen or a joiner among Latin letters looks
    like the name without it, so RV004 alone sent the AO to a centre that would confirm the details."""
    assert codes(decide(record(uln=UNREGISTERED_ULN, given_name=name, family_name=name))) == ["RV004", "RV021", "RV021"]
