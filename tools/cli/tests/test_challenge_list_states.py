"""`lrs challenges list` asks for each state once, however `--open` and `--state` name it."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by


@pytest.mark.parametrize(
    ("options", "asked"),
    [
        (["--open"], ["raised", "acknowledged"]),
        (["--open", "--state", "raised", "--state", "acknowledged"], ["raised", "acknowledged"]),
        (["--open", "--state", "resolved", "--state", "raised"], ["resolved", "raised", "acknowledged"]),
        (["--state", "resolved", "--state", "resolved"], ["resolved"]),
    ],
)
def test_each_state_is_asked_for_once(
    options: list[str], asked: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[httpx.Request] = []

    def service(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"items": [], "next": None})

    answered_by(monkeypatch, service)

    code = main(["challenges", "list", *options])

    assert code == ExitCode.OK, capsys.readouterr().err
    assert sent[0].url.params.get_list("state") == asked
