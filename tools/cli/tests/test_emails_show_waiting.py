"""`lrs emails show` of a batch decided during a relay outage (the incident walk, finding 1): its email waits behind the
earlier one the notifier retries, and the command said "the batch may not be decided yet", sending the desk to
`lrs batch status`, which said `completed`. The notifier now says why on an empty answer (`X-LRS-Notifier-Waiting`),
and the command says it instead."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import output
from lrs_cli.main import main

from .test_emails_show_said import BATCH_ID, CHALLENGE_ID, _Notifier

SAID = (
    "The notifier is waiting for the mail relay (SMTPConnectError, for 28 s): emails queue behind it and go once it"
    " answers"
)
WAITING = {"since": "2026-12-07T12:20:01Z", "seconds": 28, "error": "SMTPConnectError", "said": SAID}


class _Waiting(_Notifier):
    """The notifier's answer with its header: retrying an earlier email (`waiting`), or not (None)."""

    def __init__(self, waiting: dict[str, Any] | None) -> None:
        super().__init__([])
        self.waiting = waiting

    def _answer(self, request: httpx.Request) -> httpx.Response:
        answer = super()._answer(request)
        if self.waiting is not None:
            answer.headers["X-LRS-Notifier-Waiting"] = json.dumps(self.waiting)
        return answer


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> _Waiting:
    stub = _Waiting(WAITING)
    monkeypatch.setattr("lrs_cli.email_commands.connection", lambda ctx: stub)
    monkeypatch.setattr(output, "UNLIMITED_WIDTH", 400)
    return stub


def test_no_email_yet_behind_an_email_retried_for_the_relay_says_so_not_that_the_batch_may_not_be_decided(
    waiting: _Waiting, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emails", "show", BATCH_ID]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert shown.startswith(
        "no email yet: the notifier is waiting for the mail relay (SMTPConnectError, for 28 s): emails queue behind"
        " it and go once it answers"
    )
    assert "may not be decided" not in shown
    assert f"lrs batch status {BATCH_ID}" in shown  # whether it is decided, said as the second thing


def test_a_challenges_notice_behind_it_is_said_the_same_way(
    waiting: _Waiting, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emails", "show", "--challenge", CHALLENGE_ID]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert shown.startswith("no notice yet: the notifier is waiting for the mail relay (SMTPConnectError, for 28 s)")
    assert "has not read the challenge" not in shown


def test_json_stays_the_notifiers_list_and_the_wait_is_said_on_stderr(
    waiting: _Waiting, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emails", "show", BATCH_ID, "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == []
    assert "the notifier is waiting for the mail relay" in " ".join(printed.err.split())


@pytest.mark.parametrize("header", [None, {"said": 3}], ids=["not waiting", "unreadable"])
def test_without_the_header_no_email_yet_is_said_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], header: dict[str, Any] | None
) -> None:
    monkeypatch.setattr("lrs_cli.email_commands.connection", lambda ctx: _Waiting(header))
    assert main(["emails", "show", BATCH_ID]) == 0
    assert "no email yet: the batch may not be decided yet" in " ".join(capsys.readouterr().out.split())
