"""`lrs emails show BATCH_ID` (`--challenge ID`): the service desk, asked "our batch email never arrived", had only
`lrs emails failed` ("no email has been given up") and no way to see whether, when and where the batch's email went.
It reads the notifier's `GET /v1/deliveries` (offline here, against answers as the notifier's OpenAPI document says
it gives them) and shows each email in UK time, with the domain it went to and never the address."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import output
from lrs_cli.email_commands import email_row, emails_of, when_said
from lrs_cli.main import main

from .documented_answers import as_documented

BATCH_ID = "5a398464-6d31-4fd2-8adf-538165ed7b09"
CHALLENGE_ID = "1e8db2a9-0c4b-4d1e-9a55-3d1f0c3b7e21"
SENT = {
    "id": "c7492389-0000-4000-8000-000000000001",
    "kind": "lrs.batch.completed.v1",
    "ao_id": "RN9008",
    "status": "sent",
    "status_said": "Sent: the LRS's mail relay took it for a mailbox at aqa.exmaple. If it did not arrive, ask the AO"
    " to check that address (a mistyped domain shows here) and its spam folder.",
    "recipient_domain": "aqa.exmaple",
    "message_id": "<c7492389-0000-4000-8000-000000000001@lrs.local>",
    "attempts": 1,
    "recorded_at": "2026-12-07T02:49:10Z",
    "last_tried_at": "2026-12-07T02:49:11Z",
    "sent_at": "2026-12-07T02:49:11Z",
    "next_try_at": None,
    "last_error": None,
    "last_error_said": None,
}
WAITING = {
    **SENT,
    "status": "waiting",
    "status_said": "Not sent yet: the recipient's mail server refused it for now (a full mailbox, greylisting).",
    "attempts": 3,
    "last_tried_at": "2026-07-01T08:41:10Z",
    "sent_at": None,
    "next_try_at": "2026-07-01T08:45:10Z",
    "last_error": "recipients refused: [452 4.2.2]",
    "last_error_said": "the recipient's mailbox is full (recipients refused: [452 4.2.2])",
}
HELD = {
    **SENT,
    "kind": "lrs.challenge.raised.v2",
    "status": "held",
    "status_said": "Held: the AO has no challenge contact; it is sent once the AO sets one.",
    "recipient_domain": None,
    "attempts": 0,
    "last_tried_at": None,
    "sent_at": None,
    "last_error": "held: no challenge contact for RN9008",
    "last_error_said": "held: no challenge contact for RN9008",
}


class _Notifier:
    sandpit = False

    def __init__(self, answer: list[dict[str, Any]]) -> None:
        self.answer = answer
        self.headers: dict[str, str] = {}
        self.asked: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "notifier"
        return httpx.Client(base_url="http://notifier", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        assert (request.method, request.url.path) == ("GET", "/v1/deliveries")
        answer = httpx.Response(200, json=self.answer, headers=self.headers)
        as_documented("notifier", request, answer)
        return answer


@pytest.fixture
def notifier(monkeypatch: pytest.MonkeyPatch) -> _Notifier:
    stub = _Notifier([SENT])
    monkeypatch.setattr("lrs_cli.email_commands.connection", lambda ctx: stub)
    monkeypatch.setattr(output, "UNLIMITED_WIDTH", 400)
    return stub


def test_a_batchs_email_is_asked_by_its_id_and_a_challenges_by_its_own() -> None:
    notifier = _Notifier([SENT])
    assert emails_of(notifier, batch_id=BATCH_ID) == [SENT]  # type: ignore[arg-type]
    assert emails_of(notifier, challenge_id=CHALLENGE_ID) == [SENT]  # type: ignore[arg-type]
    assert [dict(asked.url.params) for asked in notifier.asked] == [{"batch": BATCH_ID}, {"challenge": CHALLENGE_ID}]


def test_each_email_is_shown_with_when_in_uk_time_its_domain_message_id_and_last_error_in_words() -> None:
    assert email_row(SENT) == (
        "batch completed",
        "sent",
        "sent 7 Dec 2026, 02:49",
        "aqa.exmaple",
        "1",
        "<c7492389-0000-4000-8000-000000000001@lrs.local>",
        "-",
    )
    assert email_row(WAITING)[1:3] == ("waiting", "tried 1 Jul 2026, 09:41, next 1 Jul 2026, 09:45")  # BST
    assert email_row(WAITING)[6] == "the recipient's mailbox is full (recipients refused: [452 4.2.2])"
    assert email_row(HELD)[:5] == ("challenge raised", "held", "held since 7 Dec 2026, 02:49", "-", "0")
    assert when_said({**SENT, "status": "given_up", "sent_at": None}) == "given up 7 Dec 2026, 02:49"
    assert email_row({**SENT, "status": "not_sent"})[1] == "not sent"


def test_lrs_emails_show_prints_the_table_and_what_to_tell_the_ao(
    notifier: _Notifier, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emails", "show", BATCH_ID]) == 0
    shown = capsys.readouterr().out
    assert "sent 7 Dec 2026, 02:49" in shown and "aqa.exmaple" in shown and "UK time" in shown
    assert "batch completed: Sent: the LRS's mail relay took it for a mailbox at aqa.exmaple" in shown
    assert dict(notifier.asked[0].url.params) == {"batch": BATCH_ID}


def test_lrs_emails_show_json_is_the_notifiers_answer(notifier: _Notifier, capsys: pytest.CaptureFixture[str]) -> None:
    notifier.answer = [HELD]
    assert main(["emails", "show", "--challenge", CHALLENGE_ID, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [HELD]
    assert dict(notifier.asked[0].url.params) == {"challenge": CHALLENGE_ID}


def test_no_email_yet_is_said_to_maybe_be_a_batch_not_decided_and_exits_0(
    notifier: _Notifier, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier.answer = []
    assert main(["emails", "show", BATCH_ID]) == 0
    shown = capsys.readouterr().out
    assert "no email yet: the batch may not be decided yet" in shown and f"lrs batch status {BATCH_ID}" in shown


@pytest.mark.parametrize("as_json", [False, True])
def test_no_email_yet_of_a_batch_whose_outcome_the_notifier_parked_says_so_and_how_it_goes(
    notifier: _Notifier, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    """Junk under the batch's key holds its outcome in the notifier's dead letters (an on-call walk, finding 7): the
    desk is told that, not a list of what it may be."""
    notifier.answer = []
    notifier.headers = {"X-LRS-Held-In-Dead-Letters": json.dumps({"since": "2026-12-08T02:13:00Z", "messages": 2})}
    assert main(["emails", "show", BATCH_ID, *(["--json"] if as_json else [])]) == 0
    shown = capsys.readouterr()
    said = shown.err if as_json else shown.out
    assert "its outcome is parked in the notifier's dead letters since 8 Dec 2026, 02:13" in " ".join(said.split())
    assert f"lrs dlq list --service notifier --key {BATCH_ID}" in " ".join(said.split())
    if as_json:
        assert json.loads(shown.out) == []


@pytest.mark.parametrize(
    "arguments",
    [
        ["emails", "show"],
        ["emails", "show", BATCH_ID, "--challenge", CHALLENGE_ID],
        ["emails", "show", "5a39846"],
        ["emails", "show", "--challenge", "1e8db2a9"],
    ],
    ids=["neither", "both", "batch id too short", "short challenge id"],
)
def test_one_batch_by_its_id_or_its_start_or_one_challenge_by_its_full_id_else_a_usage_error_before_asking(
    notifier: _Notifier, arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    assert notifier.asked == []
    assert "Traceback" not in capsys.readouterr().err
