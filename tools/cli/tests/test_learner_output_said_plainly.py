"""What a learner reads in `lrs` output is said as a person reads it: times on the UK clock and labelled so (in
summer UTC is an hour off, and late on a summer evening a day off), the sharing history's choices in words, a
result's status as Final or Provisional, when their challenge was resolved, and that the challenge list names the
achievement as it was when raised. `--json` keeps the services' own values: scripts read those."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from rich.console import Console

from lrs_cli import admin_commands
from lrs_cli.admin_commands import linked_providers_text, sharing_text
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.plr_commands import plr_table
from lrs_cli.times import uk_date, uk_time

ULN = "1000000043"
SUMMER_NIGHT = "2027-06-30T23:30:12.345678Z"  # 00:30 on 1 July in the UK (BST)
ROW = re.compile("^[│┃]")
RESOLVED = {
    "challenge_id": "6f0c1b7f-0b6c-4a53-9d59-4e4a531f2d11",
    "raised_at": SUMMER_NIGHT,
    "acknowledged_at": "2027-07-01T08:00:00Z",
    "resolved_at": "2027-07-02T16:45:00Z",
    "state": "resolved",
    "uln": ULN,
    "achievement_id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
    "achievement": {
        "qualification_number": "10050050",
        "title": "BTEC Diploma in Business",
        "award_date": "2010-07-06",
        "grade": "Merit",
        "uln": ULN,
        "status": "F",
    },
    "reason": "The grade is wrong",
    "resolution": "corrected",
    "note": "Grade corrected to Distinction",
    "correcting_batch_id": "3d58c8a2-0000-4000-8000-000000000001",
}


def _challenge_list(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        answer = httpx.Response(200, json={"items": [RESOLVED], "next": None})
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(lambda _: answer)})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "400")
    return main(["challenges", "list", *argv])


def test_the_helper_says_an_instant_on_the_uk_clock_with_its_label() -> None:
    assert uk_time(SUMMER_NIGHT) == "1 Jul 2027, 00:30 (UK time)"
    assert uk_time("2026-12-05T22:42:00+00:00", labelled=False) == "5 Dec 2026, 22:42"
    assert uk_date("2026-07-01T23:30:15Z") == "2 July 2026"


def test_the_challenge_list_says_uk_times_when_resolved_and_the_achievement_as_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _challenge_list(monkeypatch) == ExitCode.OK, capsys.readouterr().err

    header, row = [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in capsys.readouterr().out.splitlines()
        if ROW.match(line)
    ]
    cells = dict(zip(header, row, strict=True))
    assert cells["raised (UK time)"] == "1 Jul 2027, 00:30"
    assert cells["resolved (UK time)"] == "2 Jul 2027, 17:45"
    assert cells["achievement when raised"].startswith("BTEC Diploma in Business (100/5005/0), grade Merit")
    assert cells["resolution"] == "Data corrected"


def test_the_challenge_list_as_json_is_what_the_service_answered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _challenge_list(monkeypatch, "--json") == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == [RESOLVED]


def test_the_plr_says_final_or_provisional_and_its_history_in_uk_time() -> None:
    event = {
        "subject_code": "100/5005/0",
        "subject": "BTEC Diploma in Business",
        "grade": "Distinction",
        "status": "F",
        "achievement_award_date": "2010-07-06",
        "awarding_organisation_name": "Pearson",
        "source": "AO",
        "history": [
            {"version": 1, "change": "recorded", "occurred_at": SUMMER_NIGHT, "grade": "Merit", "status": "P"},
            {"version": 2, "change": "updated", "occurred_at": "2027-07-02T16:45:00Z", "grade": "Distinction",
             "status": "F"},
        ],
    }  # fmt: skip
    console = Console(width=250, record=True)
    for part in plr_table({"uln": ULN, "learning_events": [event]}):
        console.print(part)
    lines = console.export_text().splitlines()
    achievement = next(line for line in lines if "Distinction" in line and " v2 " not in line)
    first, second = (next(line for line in lines if f" v{n} " in line) for n in (1, 2))

    assert "Final" in achievement and not re.search(r"[│┃]\s*F\s*[│┃]", achievement)
    assert "v1 recorded 1 Jul 2027, 00:30 (UK time)" in first and "Provisional" in first
    assert "v2 updated 2 Jul 2027, 17:45 (UK time)" in second and "Final" in second
    assert "UTC" not in "\n".join(lines)


def test_the_sharing_history_says_each_choice_in_words_and_when_on_the_uk_clock() -> None:
    view = {
        "uln": ULN,
        "ability_to_share": 2,
        "changes": [
            {"ability_to_share": 2, "changed_by": "you", "changed_at": SUMMER_NIGHT},
            {"ability_to_share": 1, "changed_by": "learning provider 10000001, linked to you",
             "changed_at": "2026-12-05T22:43:19Z"},
            {"ability_to_share": 0, "changed_by": "an LRS operator", "changed_at": "2026-12-01T09:00:00Z"},
        ],
    }  # fmt: skip

    assert sharing_text(view).splitlines()[1:] == [
        '  1 Jul 2027, 00:30 (UK time)  set to "not sharing" by you',
        '  5 Dec 2026, 22:43 (UK time)  set to "sharing" by learning provider 10000001, linked to you',
        '  1 Dec 2026, 09:00 (UK time)  set to "privacy notice not seen" by an LRS operator',
    ]


def test_linked_providers_are_said_since_when_on_the_uk_clock() -> None:
    view = {"uln": ULN, "providers": [{"ukprn": "10000001", "linked_since": SUMMER_NIGHT}]}

    assert linked_providers_text(view).splitlines()[1] == "  10000001  since 1 Jul 2027, 00:30 (UK time)"


def test_the_sharing_history_as_json_is_what_the_service_answered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    view = {"uln": ULN, "ability_to_share": 2, "changes": [{"ability_to_share": 2, "changed_by": "you",
                                                           "changed_at": SUMMER_NIGHT}]}  # fmt: skip

    class Validation:
        sandpit = False

        def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
            answer = httpx.Response(200, json=view)
            return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(lambda _: answer))

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: Validation())

    assert main(["learners", "sharing", ULN, "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == view
