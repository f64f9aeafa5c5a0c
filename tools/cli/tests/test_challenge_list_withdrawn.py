"""`lrs challenges list` says when the AO has withdrawn a challenged achievement since the challenge was raised: the
challenge still reads `raised`, but what it is about is no longer on the learner's PLR."""

from __future__ import annotations

import re

import pytest

from lrs_cli.client import ExitCode

from .test_challenge_list_table import RAISED, ROW, _list_printed

ACHIEVEMENT = {
    "qualification_number": "6001166X",
    "title": "GCSE Mathematics",
    "award_date": "2024-05-20",
    "grade": "7",
    "status": "F",
}


def test_a_challenge_on_an_achievement_withdrawn_since_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    withdrawn = {**RAISED, "achievement": ACHIEVEMENT, "achievement_withdrawn": True}
    live = {**RAISED, "achievement": ACHIEVEMENT, "achievement_withdrawn": False}
    code = _list_printed(monkeypatch, withdrawn, live, RAISED, columns=400)

    assert code == ExitCode.OK, capsys.readouterr().err
    header, *rows = [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in capsys.readouterr().out.splitlines()
        if ROW.match(line)
    ]
    column = header.index("achievement when raised")
    assert [row[column] for row in rows] == [
        "GCSE Mathematics (600/1166/X), grade 7, awarded 2024-05-20, Final; now withdrawn by the AO: no longer on"
        " the PLR",
        "GCSE Mathematics (600/1166/X), grade 7, awarded 2024-05-20, Final",
        RAISED["achievement_id"],
    ]
    assert [row[header.index("state")] for row in rows] == ["raised"] * 3
