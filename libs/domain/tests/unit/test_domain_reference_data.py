from __future__ import annotations

from datetime import date

import pytest

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.reference import Catalogue
from lrs_domain.reference_data import (
    ReferenceDataError,
    load_awarding_organisations,
    load_extra_qualifications,
    load_learners,
    load_ofqual_catalogue,
)

OFQUAL = (
    "\ufeffDateOfOfqualDataSnapshot,QualificationName,AwardingOrganisation,QualificationNumber,Level,QualificationType,"
    "SectorSubjectArea,Status\n"
    "18/02/2025,AQA Level 1/Level 2 GCSE (9-1) in Business ,AQA Education,60303049,Level 1/2,GCSE (9 to 1),"
    "Business,Approved\n"
    '18/02/2025,"BCS Level 2 Award, Digital","BCS, The Chartered Institute for IT",6100008X,Level 2,'
    "Technical Qualification,ICT,Approved\n"
)
AOS = 'AwardingOrganisationId,Name\nRN9008,AQA Education\nRN9027,"BCS, The Chartered Institute for IT"\n'
EXTRA = (
    "QualificationNumber,Pathway,QualificationName,AwardingOrganisationId,AwardingOrganisation,Level,"
    "QualificationType,Framework,Kind,GradeSet\n"
    "100/5006/1,Science,Sport,RN9093,Pearson Education Ltd,Level 3,Vocationally-Related Qualification,NQF,qualification,\n"
    "100/5006/1,Development,Sport,RN9093,Pearson Education Ltd,Level 3,Vocationally-Related Qualification,NQF,qualification,\n"
    "100/5007/3,,Key Skills,RN9093,Pearson Education Ltd,Level 2,Other General Qualification,NQF,qualification,Pass|Fail|Merit\n"
    "K/501/5773,,Health and safety,RN9037,City and Guilds of London Institute,Level 1,QCF Unit,QCF,unit,\n"
)
TODAY = date(2026, 12, 4)
LEARNERS = (
    "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"
    "1000000043,Lily,McCarthy,1999-11-27,2,1,\n"
    "2000000028,Niamh,King,1996-03-24,2,2,2000000036\n"
    "2000000036,Niamh,King,,,,\n"
)


def test_awarding_organisations_load() -> None:
    aos = load_awarding_organisations(AOS)
    assert [(ao.ao_id, ao.name) for ao in aos] == [
        ("RN9008", "AQA Education"),
        ("RN9027", "BCS, The Chartered Institute for IT"),
    ]


def test_the_ofqual_snapshot_loads_as_rqf_qualifications_with_default_grade_sets() -> None:
    aos = load_awarding_organisations(AOS)
    rows = load_ofqual_catalogue(OFQUAL.splitlines(), {ao.name: ao.ao_id for ao in aos})
    gcse, bcs = rows
    assert gcse.qualification_number == "60303049"
    assert gcse.title == "AQA Level 1/Level 2 GCSE (9-1) in Business"  # trimmed
    assert gcse.awarding_organisation_id == "RN9008"
    assert (gcse.framework, gcse.kind, gcse.level) == (Framework.RQF, QualificationKind.QUALIFICATION, "Level 1/2")
    assert gcse.grade_set[0] == "9"
    assert gcse.pathway is None
    assert bcs.awarding_organisation_id == "RN9027"
    assert "Distinction*" in bcs.grade_set


def test_an_ao_missing_from_the_ids_fails_loudly_with_its_line() -> None:
    with pytest.raises(ReferenceDataError, match="line 3"):
        load_ofqual_catalogue(OFQUAL, {"AQA Education": "RN9008"})


def test_extra_rows_carry_pathways_frameworks_kinds_and_grade_sets() -> None:
    rows = load_extra_qualifications(EXTRA)
    catalogue = Catalogue.of(rows)
    assert [row.pathway for row in catalogue.rows_for("10050061")] == ["Science", "Development"]
    key_skills = catalogue.rows_for("10050073")[0]
    assert key_skills.grade_set == ("Pass", "Fail", "Merit")
    unit = catalogue.rows_for("K/501/5773")[0]
    assert (unit.framework, unit.kind, unit.grade_set) == (Framework.QCF, QualificationKind.UNIT, ("Pass",))


def test_an_extra_unit_row_must_carry_a_unit_reference() -> None:
    bad = EXTRA.splitlines()[0] + "\n60303049,,Unit,RN1,AO,Level 1,QCF Unit,QCF,unit,\n"
    with pytest.raises(ReferenceDataError, match="line 2"):
        load_extra_qualifications(bad)


def test_learners_load_with_merges_and_defaults() -> None:
    lily, merged, master = load_learners(LEARNERS, TODAY)
    assert (lily.given_name, lily.date_of_birth, lily.gender, lily.ability_to_share) == (
        "Lily",
        date(1999, 11, 27),
        2,
        1,
    )
    assert merged.master_uln == "2000000036"
    assert merged.ability_to_share == 2
    assert (master.date_of_birth, master.gender, master.ability_to_share, master.master_uln) == (None, 0, 0, None)


def test_an_invalid_learner_row_names_the_line_but_not_the_data() -> None:
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(LEARNERS + "1000000043,Lily,McCarthy,27/11/1999,2,1,\n", TODAY)
    assert "line 5" in str(raised.value)
    assert "1999" not in str(raised.value)


def test_a_line_merging_its_own_uln_into_itself_is_refused_naming_the_line() -> None:
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(LEARNERS + "1000000043,Lily,McCarthy,1999-11-27,2,1,1000000043\n", TODAY)
    assert "line 5" in str(raised.value) and "not merged into itself" in str(raised.value)


def test_a_learner_on_two_rows_with_different_details_is_refused_and_the_same_row_twice_is_not() -> None:
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(LEARNERS + "1000000043,Lilly,McCarthy,1999-11-28,2,1,\n", TODAY)
    assert "******0043 is on two rows with different details" in str(raised.value)
    assert "Lilly" not in str(raised.value) and "1000000043" not in str(raised.value)

    assert len(load_learners(LEARNERS + "1000000043,Lily,McCarthy,1999-11-27,2,1,\n", TODAY)) == 4


@pytest.mark.parametrize(
    ("born", "refused"),
    [
        ("20100505", "DateOfBirth is not a date written yyyy-mm-dd"),
        ("2010-W19-3", "DateOfBirth is not a date written yyyy-mm-dd"),
        ("2010-02-30", "DateOfBirth is written yyyy-mm-dd, but the calendar has no such day"),
        ("0001-01-01", "DateOfBirth is not a date of birth from 1900-01-01 to today"),
        ("1899-12-31", "DateOfBirth is not a date of birth from 1900-01-01 to today"),
        ("2026-12-05", "DateOfBirth is not a date of birth from 1900-01-01 to today"),
    ],
)
def test_a_date_of_birth_is_read_as_registration_reads_it(born: str, refused: str) -> None:
    """Decision 0176: the import took any form `date.fromisoformat` reads, and any year, which one learner at a time
    refuses; a learner born in 2099 was then matched by batches."""
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(f"{LEARNERS}1000000043,Lily,McCarthy,{born},2,1,\n", TODAY)
    assert str(raised.value) == f"line 5: {refused}"
    [first, *_] = load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,Lily,McCarthy, 1900-01-01 ,2,1,\n", TODAY)
    [last, *_] = load_learners(
        f"{LEARNERS.splitlines()[0]}\n1000000043,Lily,McCarthy,{TODAY.isoformat()},2,1,\n", TODAY
    )
    assert (first.date_of_birth, last.date_of_birth) == (date(1900, 1, 1), TODAY)


def test_missing_columns_are_refused() -> None:
    with pytest.raises(ReferenceDataError, match="missing columns"):
        load_learners("ULN,GivenName\n1000000043,Lily\n", TODAY)


def test_blank_lines_are_skipped() -> None:
    assert len(load_awarding_organisations(AOS + "\n\n")) == 2


def test_learner_names_are_trimmed_and_counted_once_trimmed() -> None:
    longest = "L" * 35
    [learner] = load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,  {longest}  , King ,,,,\n", TODAY)
    assert (learner.given_name, learner.family_name) == (longest, "King")


def test_learner_names_are_counted_composed_as_a_batch_counts_them() -> None:
    """35 letters written decomposed are 36 code points: the import registers them, as a batch judges them, and
    stores the name as sent (decision 0167); a name that composes longer than it is written is counted so."""
    decomposed = "L" * 33 + "e\u0301n"
    [learner] = load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,{decomposed},King,,,,\n", TODAY)
    assert learner.given_name == decomposed
    with pytest.raises(ReferenceDataError, match="GivenName is 69 characters long"):
        load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,{'A' + chr(0xF43) * 34},King,,,,\n", TODAY)


@pytest.mark.parametrize(
    ("row", "refused"),
    [
        ("1000000043,Lily,M" + "c" * 35 + ",,,,", "line 5: FamilyName is 36 characters long; a name has at most 35"),
        ("1000000043,Li\x00ly,McCarthy,,,,", "line 5: GivenName holds the control character U+0000 at character 3"),
        ("1000000043,Lily,\x1b[1mMcCarthy,,,,", "line 5: FamilyName holds the control character U+001B at character 1"),
        ("1000000043,   ,McCarthy,,,,", "line 5: GivenName is empty"),
        # a record over two lines is named by the line it ends on
        ('1000000043,"Lily\nMay",McCarthy,,,,', "line 6: GivenName holds a line break (U+000A) at character 5"),
        # only CR and LF end a CSV line: the line separators Python also splits at stand in the value
        ("1000000043,Lily\u2028May,McCarthy,,,,", "line 5: GivenName holds a line break (U+2028) at character 5"),
        ("1000000043,Lily,Mc\x85Carthy,,,,", "line 5: FamilyName holds a line break (U+0085) at character 3"),
        ('1000000043,"Li\u2029ly",McCarthy,,,,', "line 5: GivenName holds a line break (U+2029) at character 3"),
    ],
)
def test_a_learner_name_that_could_not_be_registered_is_refused_naming_its_line(row: str, refused: str) -> None:
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(f"{LEARNERS}{row}\n", TODAY)
    assert str(raised.value).startswith(refused)
    assert "Lily" not in str(raised.value) and "McCarthy" not in str(raised.value)


@pytest.mark.parametrize(
    ("gender", "ability", "refused"),
    [
        ("9" * 4301, "1", "line 5: Gender must be one of 0, 1, 2, 9"),
        ("9" * 5000, "1", "line 5: Gender must be one of 0, 1, 2, 9"),
        ("1" + "0" * 4300, "1", "line 5: Gender must be one of 0, 1, 2, 9"),
        ("2", "2" * 4301, "line 5: AbilityToShare must be one of 0, 1, 2"),
        ("3", "1", "line 5: Gender must be one of 0, 1, 2, 9"),
        ("\uff12", "1", "line 5: Gender must be one of 0, 1, 2, 9"),  # a full-width 2 is not the digit 2
        ("2", "-1", "line 5: AbilityToShare must be one of 0, 1, 2"),
    ],
)
def test_a_coded_column_out_of_its_values_is_refused_in_the_columns_words(
    gender: str, ability: str, refused: str
) -> None:
    """A value of more than 4,300 digits was answered in Python's words ("use sys.set_int_max_str_digits() to
    increase the limit"): `int` read it before the allowed values were looked at."""
    with pytest.raises(ReferenceDataError) as raised:
        load_learners(f"{LEARNERS}1000000043,Lily,McCarthy,1999-11-27,{gender},{ability},\n", TODAY)
    assert str(raised.value) == refused


def test_a_coded_column_is_read_with_its_leading_zeros() -> None:
    [learner] = load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,Lily,McCarthy,,09,{'0' * 5000}2,\n", TODAY)
    assert (learner.gender, learner.ability_to_share) == (9, 2)
    [learner] = load_learners(f"{LEARNERS.splitlines()[0]}\n1000000043,Lily,McCarthy,,000, 0 ,\n", TODAY)
    assert (learner.gender, learner.ability_to_share) == (0, 0)
