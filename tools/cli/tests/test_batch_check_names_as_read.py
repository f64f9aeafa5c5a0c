"""`lrs batch check` says offline, through the same pure rules as the service, what decision 0167's later note
(2026-12-07) adds: a name that lost a letter when the file was saved (Excel's "CSV (Comma delimited)" writes '?' for
a Welsh ŵ) is RV021 saying so, and a name written with a typographic apostrophe or hyphen is warned of (WV003), as
the registry, which the check cannot see, may hold the keyboard's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs_cli.main import main

HEADER = (
    "FileVersion,AwardingOrganisation,JobType,NotificationEmail,BatchReference,ResultsIssuedDate\r\n"
    "1.0,RN9093,Final,results@example.org,JUNE,\r\n"
    "Action,MISIdentifier,ULN,GivenName,FamilyName,DateOfBirth,Gender,QualificationNumber,Pathway,AwardDate,Grade,"
    "CentreUKPRN,LanguageForAssessment,Credits\r\n"
)
SAVE_AGAIN = 'save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma delimited)")'


def _check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    exit_code = main(["batch", "check", str(path)])
    return exit_code, capsys.readouterr().out


def test_a_file_saved_as_ansi_is_rv021_at_each_name_that_lost_a_letter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        HEADER
        + "Create,MIS-llyr,1000000043,Ll\u0177r,Ynys-Gw\u0177r,,,500/0002/0,,2013-07-02,Distinction,10007890,English,17\r\n"
    )
    path = tmp_path / "results.csv"
    path.write_bytes(text.encode("cp1252", errors="replace"))  # what Excel's "CSV (Comma delimited)" writes

    exit_code, out = _check(capsys, path)

    assert exit_code == 1  # the only record rejected: more than 30%
    assert (
        f"    RV021 GivenName: Given name holds '?' at character 3, where a letter was lost when the file was saved: {SAVE_AGAIN}."
        in out
    )
    assert (
        f"    RV021 FamilyName: Family name holds '?' at character 8, where a letter was lost when the file was saved: {SAVE_AGAIN}."
        in out
    )
    assert "Ll?r" not in out and "Ynys" not in out


def test_a_typographic_apostrophe_is_a_warning_offline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (
        HEADER
        + "Create,MIS-oneill,1000000043,M\u00e1ire,O\u2019Neill,,,500/0002/0,,2013-07-02,Distinction,10007890,English,17\r\n"
    )
    path = tmp_path / "results.csv"
    path.write_bytes(text.encode())

    exit_code, out = _check(capsys, path)

    assert exit_code == 0
    assert (
        "    WV003 FamilyName: Family name is written with \u2019 (U+2019), not the ' on a keyboard: if the learner is"
        " registered with ', write that, or the LRS rejects the record (RV004).\n"
    ) in out
    assert "1 would be accepted, 0 rejected (0.0%), 1 warning" in out
