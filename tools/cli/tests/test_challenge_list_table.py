"""`lrs challenges list` says when each challenge was raised to the minute, in UK time as its header says: the
UTC date alone is the day before the UK's for a challenge raised late on a summer evening."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

RAISED = {
    "challenge_id": "6f0c1b7f-0b6c-4a53-9d59-4e4a531f2d11",
    "raised_at": "2027-06-30T23:30:12.345678Z",
    "state": "raised",
    "uln": "1000000043",
    "achievement_id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
    "reason": "The grade is wrong",
    "resolution": None,
    "note": None,
}
ROW = re.compile("^[│┃]")


def _list_printed(monkeypatch: pytest.MonkeyPatch, *items: dict[str, Any], columns: int | None = None) -> int:
    """`lrs challenges list` run against a challenges service that answers `items`: its exit code."""
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        answer = httpx.Response(200, json={"items": list(items), "next": None})
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(lambda _: answer)})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    if columns is not None:
        monkeypatch.setenv("COLUMNS", str(columns))
    return main(["challenges", "list"])


def test_the_raised_column_is_the_time_in_uk_time_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _list_printed(monkeypatch, RAISED)

    assert code == ExitCode.OK, capsys.readouterr().err
    header, raised = [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in capsys.readouterr().out.splitlines()
        if ROW.match(line)
    ]
    assert header[:2] == ["challenge", "raised (UK time)"]
    assert raised[:3] == [RAISED["challenge_id"], "1 Jul 2027, 00:30", "raised"]


def test_the_achievement_column_names_the_achievement_as_a_person_knows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    described = {
        **RAISED,
        "achievement": {
            "qualification_number": "6001166X",
            "title": "GCSE Mathematics",
            "award_date": "2024-05-20",
            "grade": "7",
            "uln": "1000000043",
            "status": "P",
        },
    }
    code = _list_printed(monkeypatch, described, RAISED, columns=400)

    assert code == ExitCode.OK, capsys.readouterr().err
    header, *rows = [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in capsys.readouterr().out.splitlines()
        if ROW.match(line)
    ]
    column = header.index("achievement when raised")
    assert [row[column] for row in rows] == [
        "GCSE Mathematics (600/1166/X), grade 7, awarded 2024-05-20, Provisional",
        RAISED["achievement_id"],  # raised before challenges described their achievement
    ]


def test_the_achievement_column_prints_a_title_as_written_never_as_markup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    titled = {
        **RAISED,
        "achievement": {
            "qualification_number": "6001166X",
            "title": "Maths [bold]Higher[/] [/link]",
            "award_date": "2024-05-20",
            "grade": "[7]",
        },
    }
    code = _list_printed(monkeypatch, titled, columns=400)

    assert code == ExitCode.OK, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "Maths [bold]Higher[/] [/link] (600/1166/X), grade [7], awarded 2024-05-20" in printed
