"""WV007 (decision 0201), never a rejection: a value a spreadsheet changed (the spreadsheet walk, F4 and F5).

- an MIS identifier in scientific notation or a spreadsheet's error value is warned of by every check;
- a name garbled by a UTF-8 file opened as Windows-1252 (SiÃ¢n) is warned of by the offline check, and RV004 says
  so online, like the typographic apostrophe's sentence, from the record alone; the name is never repeated."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import CATALOGUE, TODAY, ULN_3, decide, header, record

from lrs_contracts.codes import CODE_EXPLANATIONS, WARNING_CODE_TITLES, WarningCode
from lrs_contracts.outcomes import RecordStatus
from lrs_domain.decision import check_batch_offline
from lrs_domain.names import garbled_in_name
from lrs_domain.rules import details_do_not_match

GARBLED = (
    "{label} looks like a UTF-8 file opened as Windows-1252 (Siân shown as SiÃ¢n): open the original file in"
    " Excel with Data > From Text/CSV, File origin '65001: Unicode (UTF-8)', then save it as CSV UTF-8."
)


@pytest.mark.parametrize(
    ("mis_identifier", "what"),
    [
        ("1.23457E+15", "a number a spreadsheet wrote in scientific notation, losing its digits"),
        ("7E+09", "a number a spreadsheet wrote in scientific notation, losing its digits"),
        ("#N/A", "a spreadsheet's error value: a formula in the spreadsheet failed"),
        ("#REF!", "a spreadsheet's error value: a formula in the spreadsheet failed"),
        ("#VALUE!", "a spreadsheet's error value: a formula in the spreadsheet failed"),
        ("#NAME?", "a spreadsheet's error value: a formula in the spreadsheet failed"),
        ("#DIV/0!", "a spreadsheet's error value: a formula in the spreadsheet failed"),
    ],
)
def test_an_mis_identifier_a_spreadsheet_changed_is_accepted_with_wv007(mis_identifier: str, what: str) -> None:
    outcome = decide(record(mis_identifier=mis_identifier)).outcomes[0]

    assert outcome.status is RecordStatus.ACCEPTED
    [warning] = outcome.warnings
    assert (warning.code, warning.field, warning.message) == (
        "WV007",
        "mis_identifier",
        f"MIS identifier '{mis_identifier}' is {what}: format the column as Text, correct it and send the record again"
        " if it must be found by its MIS identifier (warning only).",
    )


@pytest.mark.parametrize(
    "mis_identifier", ["CAND-1", "E+15", "12345E", "0042", "#1", "A1.2E+3", "N/A", "3E-4521", "7e-12", "2E+5"]
)
def test_other_mis_identifiers_are_not_warned_of(mis_identifier: str) -> None:
    assert decide(record(mis_identifier=mis_identifier)).outcomes[0].warnings == ()


def test_the_offline_check_warns_of_an_mis_identifier_a_spreadsheet_changed() -> None:
    report = check_batch_offline(header(), [record(mis_identifier="#N/A")], CATALOGUE, TODAY)

    assert [finding.code for finding in report.outcomes[0].warnings] == ["WV007"]


@pytest.mark.parametrize(
    "name", ["SiÃ¢n", "ZoÃ«", "Ã\u201c Briain", "ChloÃ©", "O\u00e2\u20ac\u2122Neill", "Dafydd LlÅ·r".replace("Å", "Ã")]
)
def test_a_name_garbled_by_windows_1252_is_recognised(name: str) -> None:
    assert garbled_in_name("The given name", name) == GARBLED.format(label="The given name")


@pytest.mark.parametrize("name", ["Siân", "João", "JOÃO", "Ãngela", "Âlex", "O'Neill", "Chloé Brontë"])
def test_a_name_with_those_letters_written_on_purpose_is_not(name: str) -> None:
    assert garbled_in_name("The given name", name) is None


def test_rv004_for_a_garbled_name_says_what_happened_without_repeating_the_name() -> None:
    [finding] = decide(record(uln=ULN_3, given_name="SiÃ¢n", family_name="Ã\u201c Briain")).outcomes[0].errors

    assert finding.code == "RV004"
    assert finding.message == (
        f"{details_do_not_match(ULN_3)} {GARBLED.format(label='The given name')}"
        f" {GARBLED.format(label='The family name')}"
    )
    assert "Briain" not in finding.message


def test_the_offline_check_warns_of_a_garbled_name_with_wv007() -> None:
    report = check_batch_offline(header(), [record(given_name="ZoÃ«", family_name="Smith")], CATALOGUE, TODAY)

    [warning] = report.outcomes[0].warnings
    assert (warning.code, warning.field) == ("WV007", "given_name")
    assert warning.message == f"{GARBLED.format(label='Given name')} The LRS rejects the record (RV004)."
    assert "ZoÃ«" not in warning.message


def test_wv007_is_a_code_with_its_title_and_explanation() -> None:
    assert WarningCode.CHANGED_BY_A_SPREADSHEET.value == "WV007"
    assert WarningCode.CHANGED_BY_A_SPREADSHEET in WARNING_CODE_TITLES
    assert WarningCode.CHANGED_BY_A_SPREADSHEET in CODE_EXPLANATIONS
