"""`lrs plr show` says how many withdrawn achievements it leaves out and how to see them, and, for a ULN merged into
another, which ULN the learner's record is now under; `lrs plr credential` says which ULN the credential names."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import plr_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .test_plr_achievement_id import AO_EVENT, shown

OLD_ULN, MASTER_ULN = "2000000028", "2000000001"


class Projector:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            base_url="http://plr-projector",
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=self.answer)),
        )


def _segment(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _credential_of(uln: str) -> dict[str, Any]:
    claims = {"sub": f"http://lrs.example/v1/learners/{uln}", "iss": "http://lrs.example"}
    token = f"{_segment({'alg': 'EdDSA'})}.{_segment(claims)}.c2ln"
    return {"credential": token, "achievements": 1, "jwks_uri": "http://lrs.example/.well-known/jwks.json"}


def _plain(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("left_out", "said"), [(1, "1 withdrawn achievement is"), (2, "2 withdrawn achievements are")])
def test_the_plr_says_how_many_withdrawn_achievements_it_leaves_out_and_how_to_see_them(
    left_out: int, said: str
) -> None:
    text = _plain(shown({"uln": "1000000043", "learning_events": [AO_EVENT], "withdrawn_not_shown": left_out}, 200))

    assert f"{said} not shown: --withdrawn shows them" in text


@pytest.mark.parametrize("left_out", [0, None])
def test_no_word_of_withdrawn_achievements_when_none_is_left_out_or_nothing_is_said(left_out: int | None) -> None:
    text = shown({"uln": "1000000043", "learning_events": [AO_EVENT], "withdrawn_not_shown": left_out}, 200)

    assert "withdrawn" not in text


def test_a_plr_read_under_a_merged_uln_names_the_uln_the_record_is_now_under(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"uln": OLD_ULN, "master_uln": MASTER_ULN, "ulns": [MASTER_ULN, OLD_ULN], "learning_events": []}
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(plr_commands, "connection", lambda ctx: Projector(document))

    assert main(["plr", "show", OLD_ULN]) == ExitCode.OK
    text = _plain(capsys.readouterr().out)

    assert f"PLR of {OLD_ULN} (with {MASTER_ULN})" in text
    assert f"{OLD_ULN} was merged into {MASTER_ULN}: the learner's record is now under ULN {MASTER_ULN}" in text
    master = _plain(shown({**document, "uln": MASTER_ULN}, 200))
    assert "merged into" not in master


def test_a_credential_of_a_merged_uln_says_it_names_the_master_uln(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(plr_commands, "connection", lambda ctx: Projector(_credential_of(MASTER_ULN)))
    told = (
        f"(it names ULN {MASTER_ULN}: {OLD_ULN} was merged into it, and the learner's record is now under {MASTER_ULN})"
    )

    assert main(["plr", "credential", OLD_ULN, "--output", str(tmp_path / "cred.json")]) == ExitCode.OK
    written = _plain(capsys.readouterr().err)
    assert f"wrote the credential of {OLD_ULN} (1 achievement) to" in written
    assert told in written

    assert main(["plr", "credential", OLD_ULN]) == ExitCode.OK
    printed = capsys.readouterr()
    assert json.loads(printed.out) == _credential_of(MASTER_ULN)
    assert told in _plain(printed.err)

    assert main(["plr", "credential", MASTER_ULN, "--output", str(tmp_path / "own.json")]) == ExitCode.OK
    assert "it names ULN" not in capsys.readouterr().err
