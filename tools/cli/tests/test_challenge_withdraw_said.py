"""`lrs challenges withdraw` (a learner's key, or an operator's for them) ends an open challenge "Withdrawn by the
learner" (decision 0194); one withdrawn already is done, said so, exit 0; one the AO resolved first stays refused.
`lrs challenges resolve` offers the AO every resolution but `withdrawn`, which is the learner's alone (offline,
against a service that answers as the real one does)."""

from __future__ import annotations

import json

import httpx
import pytest
from tools.cli.tests.test_challenge_ack_and_batches_said import CHALLENGE_ID, _Challenges, _run

from lrs_cli import challenge_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

WITHDRAWN = {
    "challenge_id": CHALLENGE_ID,
    "achievement_id": "66666666-7777-4888-9999-000000000000",
    "ao_id": "RN9093",
    "uln": "1000000043",
    "state": "resolved",
    "resolution": "withdrawn",
    "resolved_by": "you",
}


def _resolved_already() -> httpx.Response:
    return httpx.Response(
        409,
        json={
            "type": "/problems/CHALLENGE_NOT_IN_THAT_STATE",
            "title": "Conflict",
            "status": 409,
            "detail": "A resolved challenge cannot be withdrawn. It is resolved already, and a resolution is final.",
            "code": "CHALLENGE_NOT_IN_THAT_STATE",
            "state": "resolved",
        },
        headers={"content-type": "application/problem+json"},
    )


def test_a_withdrawal_says_the_challenge_is_withdrawn_by_the_learner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(httpx.Response(200, json=WITHDRAWN))

    code, out, _ = _run(monkeypatch, capsys, services, "withdraw", CHALLENGE_ID)

    assert (code, out) == (
        ExitCode.OK,
        f"challenge {CHALLENGE_ID} withdrawn: it is closed, and the achievement may be challenged again",
    )
    assert services.asked == [("POST", f"/v1/challenges/{CHALLENGE_ID}/withdraw")]


def test_withdrawing_again_is_done_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(_resolved_already(), WITHDRAWN)

    code, out, _ = _run(monkeypatch, capsys, services, "withdraw", CHALLENGE_ID)

    assert (code, out) == (ExitCode.OK, f"challenge {CHALLENGE_ID} was withdrawn already: nothing changed")
    assert services.asked == [
        ("POST", f"/v1/challenges/{CHALLENGE_ID}/withdraw"),
        ("GET", f"/v1/challenges/{CHALLENGE_ID}"),
    ]


def test_withdrawing_one_the_ao_resolved_first_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(_resolved_already(), {**WITHDRAWN, "resolution": "upheld"})

    code, _, err = _run(monkeypatch, capsys, services, "withdraw", CHALLENGE_ID)

    assert code == ExitCode.FAILED
    assert err.startswith(
        f'lrs: challenge {CHALLENGE_ID} is closed: the awarding organisation resolved it as "Data confirmed correct",'
        " so it cannot be withdrawn. Nothing more is needed"
    )
    assert "resolved (Withdrawn" not in err and "{challenge_id}" not in err


def test_a_withdrawal_with_json_prints_the_challenge(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(challenge_commands, "connection", lambda ctx: _Challenges(httpx.Response(200, json=WITHDRAWN)))

    assert main(["challenges", "withdraw", CHALLENGE_ID, "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == WITHDRAWN


def test_the_ao_does_not_resolve_a_challenge_as_withdrawn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Challenges(httpx.Response(500))

    code, _, err = _run(monkeypatch, capsys, services, "resolve", CHALLENGE_ID, "--resolution", "withdrawn")

    assert code == ExitCode.USAGE
    assert "--resolution must be one of corrected, upheld, rejected, not 'withdrawn'" in err
    assert services.asked == []  # refused before anything is sent
