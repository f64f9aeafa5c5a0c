"""`lrs plr show` never shows what a learning provider reported (ILR) as an awarding organisation's result: the
provider's records are a table of their own, titled so, and the provider is named with its UKPRN. --json is the
projector's document as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console

from lrs_cli import plr_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.plr_commands import plr_table

AO_RESULT = {
    "id": "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80",
    "source": "AO",
    "subject_code": "100/5006/1",
    "subject": "Mathematics",
    "grade": "Merit",
    "status": "F",
    "achievement_award_date": "2025-08-21",
    "awarding_organisation_name": "Pearson",
    "supporting_records": [{"id": "40", "source": "ILR", "achievement_provider_name": "Example College"}],
}
PROVIDER_RECORD = {
    "id": "41",
    "source": "ILR",
    "subject_code": "600/1234/5",
    "subject": "Carpentry",
    "grade": "Distinction",
    "status": None,
    "achievement_award_date": "2025-07-01",
    "awarding_organisation_name": None,
    "achievement_provider_ukprn": "10012345",
    "achievement_provider_name": "Pearson Education Ltd",
    "under_data_challenge": "N",
    "withdrawn": False,
}
PROVIDER_TITLE = "Reported by learning providers (ILR): not results from an awarding organisation"


def shown(events: list[dict[str, Any]]) -> str:
    console = Console(width=200, record=True)
    for part in plr_table({"uln": "1000000043", "learning_events": events}):
        console.print(part)
    return console.export_text()


def test_a_providers_record_is_in_a_titled_table_of_its_own_never_under_awarding_organisation() -> None:
    text = shown([AO_RESULT, PROVIDER_RECORD])

    results, _, reported = text.partition(PROVIDER_TITLE)
    assert "Results from awarding organisations" in results
    assert "Mathematics" in results and "Carpentry" not in results and "Pearson Education Ltd" not in results
    row = next(line for line in reported.splitlines() if "Carpentry" in line)
    assert "Pearson Education Ltd (UKPRN 10012345)" in row and "Distinction" in row
    assert "awarding organisation" not in reported.splitlines()[1]  # the provider table's header


def test_the_count_of_provider_records_behind_an_ao_result_says_whose_they_are() -> None:
    row = next(line for line in shown([AO_RESULT]).splitlines() if "Mathematics" in line)

    assert "1 provider record (ILR)" in row


def test_a_plr_of_provider_records_alone_says_it_has_no_awarding_organisation_result() -> None:
    text = shown([PROVIDER_RECORD])

    assert text.index("no results from an awarding organisation") < text.index(PROVIDER_TITLE)
    assert "Results from awarding organisations" not in text


def test_an_empty_plr_says_no_achievements() -> None:
    assert shown([]).splitlines()[1:] == ["no achievements"]


def test_plr_show_json_is_the_projectors_document_unchanged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"uln": "1000000043", "ulns": ["1000000043"], "learning_events": [AO_RESULT, PROVIDER_RECORD]}
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(plr_commands, "plr", lambda *args, **kwargs: document)

    assert main(["plr", "show", "1000000043", "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == document
