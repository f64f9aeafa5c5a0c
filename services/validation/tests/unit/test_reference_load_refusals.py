"""What `lrs reference load` refuses before anything is replaced (findings of the reference-data steward's walk): a
file that is missing or not UTF-8, named with the learner import's words; an AO id or name on two rows; a
qualification on two rows of one file; an extra row of an AO the list lacks; and, against the catalogue it would
replace, a load removing more than 5% of it, or moving qualifications to another AO id, unless the operator says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs_domain.reference_files import AWARDING_ORGANISATIONS, EXTRA_QUALIFICATIONS, OFQUAL_SNAPSHOT
from validation.reference_store import (
    CatalogueChange,
    LoadRules,
    ReferenceFileRefused,
    ReferenceFiles,
    _ReferenceRows,
)

AOS = "AwardingOrganisationId,Name\nRN9008,AQA Education\nRN9093,Pearson Education Ltd\n"
REGISTER = (
    "QualificationNumber,QualificationName,AwardingOrganisation,Level,QualificationType\n"
    "60303049,AQA GCSE (9-1) in Business,AQA Education,Level 1/2,GCSE (9 to 1)\n"
    "60146734,Pearson Edexcel Level 3 Advanced GCE in Business,Pearson Education Ltd,Level 3,GCE A Level\n"
)
EXTRA_HEADER = (
    "QualificationNumber,Pathway,QualificationName,AwardingOrganisationId,AwardingOrganisation,Level,"
    "QualificationType,Framework,Kind,GradeSet\n"
)
EXTRA = EXTRA_HEADER + (
    "100/5006/1,Science,Sport,RN9093,Pearson Education Ltd,Level 3,Vocationally-Related Qualification,NQF,qualification,\n"
)


def _write(directory: Path, aos: str = AOS, register: str | bytes = REGISTER, extra: str = EXTRA) -> Path:
    (directory / AWARDING_ORGANISATIONS).write_text(aos, encoding="utf-8")
    if isinstance(register, bytes):
        (directory / OFQUAL_SNAPSHOT).write_bytes(register)
    else:
        (directory / OFQUAL_SNAPSHOT).write_text(register, encoding="utf-8")
    (directory / EXTRA_QUALIFICATIONS).write_text(extra, encoding="utf-8")
    return directory


def _refusal(files: ReferenceFiles) -> ReferenceFileRefused:
    with pytest.raises(ReferenceFileRefused) as refused:
        _ReferenceRows.of(files)
    return refused.value


def test_a_register_saved_as_windows_csv_is_named_with_its_line_and_byte(tmp_path: Path) -> None:
    register = (REGISTER + "60000001,Français niveau 2,AQA Education,Level 2,GCSE (9 to 1)\n").encode("cp1252")

    with pytest.raises(ReferenceFileRefused) as refused:
        ReferenceFiles.read(_write(tmp_path, register=register))

    assert refused.value.file == OFQUAL_SNAPSHOT
    assert refused.value.reason.startswith("line 4, column 2: byte 0xE7 is not UTF-8: save the file as CSV UTF-8")


def test_a_missing_file_is_named_with_the_names_the_files_are_read_under(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / OFQUAL_SNAPSHOT).rename(tmp_path / "ofqual-approved-qualifications-2026-11-01.csv")

    with pytest.raises(ReferenceFileRefused) as refused:
        ReferenceFiles.read(tmp_path)

    assert refused.value.file == OFQUAL_SNAPSHOT
    assert f"there is no such file in {tmp_path}" in refused.value.reason
    assert AWARDING_ORGANISATIONS in refused.value.reason and EXTRA_QUALIFICATIONS in refused.value.reason
    assert not isinstance(refused.value, OSError)


def test_a_row_the_parser_refuses_is_named_with_its_file() -> None:
    register = REGISTER + "60000001,New,AQA Education,Level 2,Brand New Type\n"

    refusal = _refusal(ReferenceFiles(AOS, register, EXTRA))

    assert refusal.file == OFQUAL_SNAPSHOT
    assert refusal.reason.startswith("line 4: ")
    assert "Brand New Type" in refusal.reason


def test_an_ao_id_on_two_rows_is_refused_naming_both_lines() -> None:
    refusal = _refusal(ReferenceFiles(AOS + "RN9008,Edexcel\n", REGISTER, EXTRA))

    assert refusal.file == AWARDING_ORGANISATIONS
    assert refusal.reason.startswith("line 4: AwardingOrganisationId RN9008 is on line 2 too")


def test_an_ao_name_with_two_ids_is_refused_naming_both() -> None:
    refusal = _refusal(ReferenceFiles(AOS + "RN9999,AQA Education\n", REGISTER, EXTRA))

    assert refusal.file == AWARDING_ORGANISATIONS
    assert refusal.reason.startswith("line 4: awarding organisation 'AQA Education' is on line 2 too, as RN9008")


def test_a_qualification_on_two_rows_of_the_register_is_refused_naming_both_lines() -> None:
    register = REGISTER + "603/0304/9,AQA GCSE (9-1) in Business Studies,AQA Education,Level 1/2,GCSE (9 to 1)\n"

    refusal = _refusal(ReferenceFiles(AOS, register, EXTRA))

    assert refusal.file == OFQUAL_SNAPSHOT
    assert refusal.reason.startswith("line 4: qualification 603/0304/9 is on line 2 too")


def test_a_qualification_and_pathway_on_two_extra_rows_is_refused_but_another_pathway_is_not() -> None:
    other_pathway = EXTRA + EXTRA.splitlines()[1].replace("Science", "Development") + "\n"
    twice = EXTRA + EXTRA.splitlines()[1].replace(",Sport,", ",Sport and Fitness,") + "\n"

    assert len(_ReferenceRows.of(ReferenceFiles(AOS, REGISTER, other_pathway)).qualifications) == 4
    refusal = _refusal(ReferenceFiles(AOS, REGISTER, twice))
    assert refusal.file == EXTRA_QUALIFICATIONS
    assert refusal.reason.startswith("line 3: qualification 100/5006/1 (pathway Science) is on line 2 too")


def test_the_same_row_twice_in_any_file_is_harmless_and_kept_once() -> None:
    once = _ReferenceRows.of(ReferenceFiles(AOS, REGISTER, EXTRA))
    twice = _ReferenceRows.of(
        ReferenceFiles(
            AOS + AOS.splitlines()[1] + "\n",
            REGISTER + REGISTER.splitlines()[1] + "\n",
            EXTRA + EXTRA.splitlines()[1] + "\n",
        )
    )

    assert twice.qualifications == once.qualifications and twice.organisations == once.organisations


def test_an_extra_row_of_an_ao_not_in_the_list_is_refused() -> None:
    extra = EXTRA + "100/5007/3,,Key Skills,RN7777,Nobody Ltd,Level 2,Other General Qualification,NQF,qualification,\n"

    refusal = _refusal(ReferenceFiles(AOS, REGISTER, extra))

    assert refusal.file == EXTRA_QUALIFICATIONS
    assert refusal.reason == "line 3: AwardingOrganisationId RN7777 is not in the awarding organisations list"


def test_an_extra_row_correcting_a_register_row_is_stored_and_counted_once() -> None:
    correction = "603/0304/9,,AQA GCSE (9-1) in Business,RN9008,AQA Education,Level 1/2,GCSE (9 to 1),RQF,qualification,9|8|7|6|5|4|3|2|1|U\n"

    rows = _ReferenceRows.of(ReferenceFiles(AOS, REGISTER, EXTRA + correction))

    assert len(rows.qualifications) == 3


def _rows(count: int, ao_id: str = "RN9008", title: str = "T", start: int = 0) -> list[tuple[object, ...]]:
    return [(f"Q{number}", "", title, ao_id) for number in range(start, start + count)]


def test_a_load_removing_more_than_five_percent_is_refused_with_the_counts_unless_allowed() -> None:
    change = CatalogueChange.between(_rows(8_112), _rows(20), {"RN9008"})

    (refusal,) = change.refusals(LoadRules())

    assert refusal.startswith("8,112 → 20: 8,092 qualifications would be removed")
    assert "query.allow_removals" in refusal
    assert change.refusals(LoadRules(allow_removals=True)) == []
    assert (change.added, change.removed, change.changed) == (0, 8_092, 0)


def test_five_percent_removed_is_allowed_and_an_empty_catalogue_is_not() -> None:
    assert CatalogueChange.between(_rows(100), _rows(95), {"RN9008"}).refusals(LoadRules()) == []
    assert CatalogueChange.between(_rows(100), _rows(94), {"RN9008"}).refusals(LoadRules())
    assert CatalogueChange.between(_rows(10), [], {"RN9008"}).refusals(LoadRules())
    assert CatalogueChange.between([], [], set()).refusals(LoadRules()) == []  # a first load


def test_added_removed_and_changed_are_counted() -> None:
    change = CatalogueChange.between(_rows(100), [*_rows(98, title="New", start=2), *_rows(3, start=100)], {"RN9008"})

    assert (change.before, change.after, change.added, change.removed, change.changed) == (100, 101, 3, 2, 98)
    assert change.refusals(LoadRules()) == []


def test_qualifications_moving_to_another_ao_id_are_refused_naming_a_few_unless_allowed() -> None:
    before = [*_rows(7, ao_id="RN9093"), *_rows(10, start=7)]
    after = [*_rows(7, ao_id="RN5133"), *_rows(10, start=7)]

    change = CatalogueChange.between(before, after, {"RN5133", "RN9008"})
    moved, dropped, why, allowed = change.refusals(LoadRules())

    assert moved.startswith("7 qualifications would move to another awarding organisation id: Q0 (RN9093 → RN5133),")
    assert moved.endswith("Q4 (RN9093 → RN5133) and 2 more")
    assert dropped.startswith("the awarding organisations list no longer has RN9093")
    assert why.endswith(
        "could no longer be updated under it (only withdrawn or reinstated), nor corrected under the new one"
    )
    assert allowed == "if the change is meant, query.allow_ao_changes allows it"
    assert change.refusals(LoadRules(allow_ao_changes=True)) == []


def test_an_ao_renumbered_in_the_list_alone_is_refused() -> None:
    change = CatalogueChange.between(_rows(10, ao_id="RN9093"), _rows(10, ao_id="RN9093"), {"RN5133"})

    refusals = change.refusals(LoadRules())

    assert refusals[0].startswith("the awarding organisations list no longer has RN9093")
    assert refusals[1:] == [  # no qualification moved: there is no new id to speak of
        "that awarding organisation could no longer send results of those qualifications",
        "if the change is meant, query.allow_ao_changes allows it",
    ]
    assert change.refusals(LoadRules(allow_ao_changes=True)) == []
