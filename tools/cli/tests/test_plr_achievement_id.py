"""`lrs plr show` gives, without --json, the achievement id `lrs challenges raise` asks for, and the raise command's
help says where to find it and who is emailed."""

from __future__ import annotations

import pytest
from rich.console import Console

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.plr_commands import plr_table

ACHIEVEMENT_ID = "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80"
AO_EVENT = {
    "id": ACHIEVEMENT_ID,
    "source": "AO",
    "subject_code": "100/5006/1",
    "subject": "Mathematics",
    "grade": "Merit",
    "status": "F",
    "achievement_award_date": "2025-08-21",
    "awarding_organisation_name": "Pearson",
}
CENTRE_RECORD = {
    "id": "41",
    "source": "ILR",
    "subject_code": "600/1234/5",
    "subject": "Carpentry",
    "grade": "Pass",
    "achievement_award_date": "2025-07-01",
    "achievement_provider_name": "Example College",
}


def shown(document: dict[str, object], width: int) -> str:
    console = Console(width=width, record=True)
    for part in plr_table(document):
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 200])
def test_the_plr_table_shows_each_ao_achievements_id_whole_even_on_a_narrow_terminal(width: int) -> None:
    text = shown({"uln": "1000000043", "learning_events": [AO_EVENT]}, width)

    assert "achievement id" in text
    assert ACHIEVEMENT_ID in text


def test_a_centre_record_shows_no_id_since_it_cannot_be_challenged() -> None:
    text = shown({"uln": "1000000043", "learning_events": [CENTRE_RECORD]}, 200)

    row = next(line for line in text.splitlines() if "Carpentry" in line)
    assert " 41 " not in row


def test_the_raise_help_names_the_column_of_plr_show_and_the_aos_challenge_contact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["challenges", "raise", "--help"]) == ExitCode.OK
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())

    assert "the `achievement id` column of `lrs plr show`" in text
    assert "emailed to the AO's challenge contact (held until the AO has one)" in text


def test_a_merged_learners_results_each_say_the_uln_they_were_recorded_under() -> None:
    """Decision 0031: the AO withdraws the unwanted copy of a result recorded under two ULNs by naming its ULN."""
    copies = [
        {**AO_EVENT, "uln": "5000000217", "grade": "6"},
        {**AO_EVENT, "id": "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a81", "uln": "5000000284", "grade": "4"},
    ]
    text = shown({"uln": "5000000217", "ulns": ["5000000217", "5000000284"], "learning_events": copies}, 200)

    rows = [line for line in text.splitlines() if "Mathematics" in line]
    assert "ULN 5000000217" in rows[0] and "ULN 5000000284" in rows[1]
    assert "ULN 1000000043" not in shown({"uln": "1000000043", "learning_events": [AO_EVENT]}, 200)
